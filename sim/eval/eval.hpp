// Accuracy of a network on a labelled data set (REFERENCE §13): the evaluation loop behind
// `imcsim eval`, shared with the tests. Three modes:
//  - float: ref::run_float, the network as trained;
//  - int:   ref::run_int with weights quantized at the architecture's weight_bits and
//           activations at its input_bits, calibrated (calibration.hpp) or dynamic;
//  - cycle: the cycle-accurate engine (eval_cycle_logits, sim/eval/eval_cycle.cpp).
// int and cycle are compared with float on the same images (paired: agreement of top-1
// predictions, mean absolute logit error).
//
// Images run on `threads` threads (parallel_for, workloads/parallel.hpp); each image's
// logits land at its index, so results (and the JSON / table bytes) do not depend on the
// thread count.
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sim/config/config.hpp"
#include "workloads/calibration.hpp"
#include "workloads/dataset.hpp"
#include "workloads/network.hpp"
#include "workloads/weights.hpp"

namespace imcsim::eval {

enum class EvalMode { Float, Int, Cycle };
const char* to_string(EvalMode mode);

// Where a network comes from on the command line: --model M.onnx, or --workload W --weights
// DIR [--weight-map MAP] (as `imcsim infer`).
struct ModelFlags {
  std::string model, workload, weights, weight_map;
};
void add_model_options(CLI::App* cmd, ModelFlags& flags);
// UsageError (exit 2) unless exactly one source is given completely.
void check_model_flags(const ModelFlags& flags);

// Everything an evaluation needs, loaded and checked.
struct EvalInputs {
  std::string model;  // as reported: the .onnx file, or "<workload> with weights <dir>"
  Network net;
  WeightSet weights;
  std::optional<ArchSpec> arch;  // --arch (nullopt: defaults 8/8)
  std::string arch_file;
  int weight_bits = 8, input_bits = 8;
  std::optional<Calibration> calibration;  // nullopt: dynamic activation ranges
  Dataset dataset;
  const Split* split = nullptr;  // owned by `dataset`
  std::vector<int64_t> images;   // indices into the split, in evaluation order

  std::string calibration_name() const { return calibration ? calibration->file : "dynamic"; }
  int label(size_t k) const { return dataset.label(*split, images[k]); }
};

// Loads the network of `flags` (ONNX import or workload + .npy weights). WorkloadError on a
// bad file; an integer (ConvInteger) ONNX model is refused (it has no float form to compare).
void load_network(const ModelFlags& flags, EvalInputs& in);
// Checks that the split's images fit the network input and that the network has one output
// per class. WorkloadError otherwise.
void check_dataset_fits(const EvalInputs& in);

// Thread-safe progress on standard error, every ~5 % of `total` images, with rate and ETA.
class Progress {
 public:
  Progress(std::string label, int64_t total, bool quiet);
  void tick();  // one image done

 private:
  std::string label_;
  int64_t total_;
  bool quiet_;
  std::atomic<int64_t> done_{0};
  int64_t next_report_ = 0;
  std::mutex mu_;
  std::chrono::steady_clock::time_point start_;
};

struct EvalOptions {
  EvalMode mode = EvalMode::Float;
  int threads = 1;
  bool quiet = false;  // no progress on standard error
};

// The cycle-accurate engine's logits, one vector per entry of in.images (sim/eval/eval_cycle.cpp).
std::vector<std::vector<double>> eval_cycle_logits(const EvalInputs& in,
                                                   const EvalOptions& options);
using CycleLogitsFn =
    std::function<std::vector<std::vector<double>>(const EvalInputs&, const EvalOptions&)>;

struct EvalResult {
  EvalMode mode = EvalMode::Float;
  std::vector<int> labels;
  std::vector<std::vector<double>> logits;  // of `mode`
  std::vector<int> predicted;
  std::vector<std::vector<double>> float_logits;  // int / cycle: the float run on the same images
  std::vector<int> float_predicted;
  int64_t clamped = 0;  // int: activation values outside their codes, all images
  std::vector<std::vector<double>> int_logits;  // cycle: the integer reference on the same images
  std::vector<int> int_predicted;
};

// Evaluates in.images in options.mode; `cycle` computes the cycle mode's logits (required for
// EvalMode::Cycle: the binary passes eval_cycle_logits, which needs the SystemC engine, so
// this library does not reference it).
EvalResult evaluate(const EvalInputs& in, const EvalOptions& options,
                    const CycleLogitsFn& cycle = nullptr);

// Reports. Same inputs and result give the same bytes (no timings, no thread count).
std::string eval_json(const EvalInputs& in, const EvalResult& r);
std::string eval_table(const EvalInputs& in, const EvalResult& r);

}  // namespace imcsim::eval
