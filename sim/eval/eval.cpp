// The evaluation loop of `imcsim eval` (eval.hpp).
#include "sim/eval/eval.hpp"

#include <fmt/format.h>

#include <cmath>
#include <exception>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "workloads/accuracy.hpp"
#include "workloads/loader.hpp"
#include "workloads/npy_weights.hpp"
#include "workloads/onnx/onnx_import.hpp"
#include "workloads/parallel.hpp"
#include "workloads/reference.hpp"

namespace imcsim::eval {

const char* to_string(EvalMode mode) {
  switch (mode) {
    case EvalMode::Float: return "float";
    case EvalMode::Int: return "int";
    case EvalMode::Cycle: return "cycle";
  }
  return "float";
}

void add_model_options(CLI::App* cmd, ModelFlags& flags) {
  cmd->add_option("--model", flags.model, "ONNX model (.onnx)");
  cmd->add_option("--workload", flags.workload, "workload name or .yaml (with --weights)");
  cmd->add_option("--weights", flags.weights, "folder of .npy weights for --workload");
  cmd->add_option("--weight-map", flags.weight_map,
                  "weight name map for --weights (default: DIR/weight_map.yaml, else "
                  "workloads/weight_maps/<name>.yaml, else <layer>.weight ...)");
}

void check_model_flags(const ModelFlags& f) {
  if (f.model.empty() == f.workload.empty())
    throw UsageError("", 0, "--model/--workload", "give exactly one of --model or --workload");
  if (!f.workload.empty() && f.weights.empty())
    throw UsageError("", 0, "--weights",
                     "--workload needs --weights DIR (a folder of .npy tensors)");
  if (!f.model.empty() && (!f.weights.empty() || !f.weight_map.empty()))
    throw UsageError("", 0, "--weights", "--weights/--weight-map go with --workload, not --model");
}

void load_network(const ModelFlags& f, EvalInputs& in) {
  if (!f.model.empty()) {
    onnx_io::OnnxModel m = onnx_io::import_onnx(f.model);
    if (m.integer)
      throw WorkloadError(f.model, 0, "--model",
                          "an integer (ConvInteger) model has no float network to evaluate");
    in.net = std::move(m.net);
    in.weights = std::move(m.weights);
    in.model = f.model;
  } else {
    in.net = load_workload(f.workload);
    in.weights = load_npy_weights(in.net, f.weights, f.weight_map);
    in.model = fmt::format("{} with weights {}", f.workload, f.weights);
  }
}

void check_dataset_fits(const EvalInputs& in) {
  const Split& s = *in.split;
  if (s.channels != in.net.input.c || s.height != in.net.input.h || s.width != in.net.input.w)
    throw WorkloadError(s.images_file, 0, "",
                        fmt::format("images are {}x{}x{} (CxHxW) but network {} takes {}x{}x{}",
                                    s.channels, s.height, s.width, in.net.name, in.net.input.c,
                                    in.net.input.h, in.net.input.w));
  if (in.net.layers.empty()) throw WorkloadError(in.net.source, 0, "", "the network has no layers");
  const int64_t outputs = in.net.layers.back().out.elements();
  if (outputs != static_cast<int64_t>(in.dataset.classes.size()))
    throw WorkloadError(
        in.dataset.file, 0, "classes",
        fmt::format("{} classes but network {} has {} outputs (layer {})",
                    in.dataset.classes.size(), in.net.name, outputs, in.net.layers.back().name));
}

Progress::Progress(std::string label, int64_t total, bool quiet)
    : label_(std::move(label)),
      total_(total),
      quiet_(quiet),
      start_(std::chrono::steady_clock::now()) {
  next_report_ = std::max<int64_t>(1, total_ / 20);
}

void Progress::tick() {
  const int64_t done = ++done_;
  if (quiet_ || total_ <= 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (done < next_report_ && done != total_) return;
  const int64_t step = std::max<int64_t>(1, total_ / 20);
  while (next_report_ <= done) next_report_ += step;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = s > 0 ? static_cast<double>(done) / s : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0.0;
  std::cerr << fmt::format(
      "imcsim: {}: {}/{} images ({:.0f} %), {:.1f} images/s, ETA {:.1f} s\n", label_, done, total_,
      100.0 * static_cast<double>(done) / static_cast<double>(total_), rate, eta);
}

namespace {

std::vector<double> logits_of(const ref::FloatTensor& out) {
  return out.data;
}

std::vector<int> predictions(const std::vector<std::vector<double>>& logits) {
  std::vector<int> out;
  out.reserve(logits.size());
  for (const auto& l : logits) out.push_back(top1(l));
  return out;
}

std::string pct(double fraction) {
  return fmt::format("{:.2f}", 100.0 * fraction);
}

}  // namespace

EvalResult evaluate(const EvalInputs& in, const EvalOptions& options, const CycleLogitsFn& cycle) {
  check_dataset_fits(in);
  EvalResult r;
  r.mode = options.mode;
  const size_t n = in.images.size();
  for (size_t k = 0; k < n; ++k) r.labels.push_back(in.label(k));
  std::vector<std::vector<double>> float_logits(n), int_logits(n);
  std::vector<int64_t> clamped(n, 0);

  if (options.mode == EvalMode::Int || options.mode == EvalMode::Cycle) {
    const auto qweights = ref::quantize_weights(in.net, in.weights, in.weight_bits);
    ref::IntOptions io;
    io.weight_bits = in.weight_bits;
    io.input_bits = in.input_bits;
    if (in.calibration) io.calibration = in.calibration->act_quant();
    Progress progress("eval int (and float)", static_cast<int64_t>(n), options.quiet);
    parallel_for(static_cast<int64_t>(n), options.threads, [&](int64_t k) {
      const ref::FloatTensor x = in.dataset.image(*in.split, in.images[static_cast<size_t>(k)]);
      float_logits[static_cast<size_t>(k)] =
          logits_of(ref::run_float(in.net, in.weights, x).output());
      const ref::IntRun run = ref::run_int(in.net, qweights, x, io);
      int_logits[static_cast<size_t>(k)] = logits_of(run.output());
      clamped[static_cast<size_t>(k)] = run.clamped;
      progress.tick();
    });
  } else {
    Progress progress("eval float", static_cast<int64_t>(n), options.quiet);
    parallel_for(static_cast<int64_t>(n), options.threads, [&](int64_t k) {
      const ref::FloatTensor x = in.dataset.image(*in.split, in.images[static_cast<size_t>(k)]);
      float_logits[static_cast<size_t>(k)] =
          logits_of(ref::run_float(in.net, in.weights, x).output());
      progress.tick();
    });
  }

  switch (options.mode) {
    case EvalMode::Float: r.logits = std::move(float_logits); break;
    case EvalMode::Int:
      r.logits = std::move(int_logits);
      r.float_logits = std::move(float_logits);
      for (int64_t c : clamped) r.clamped += c;
      break;
    case EvalMode::Cycle:
      // The engine is linked only into the binary: the caller hands its entry point in.
      if (!cycle)
        throw std::logic_error("evaluate: --mode cycle needs the engine's logits function");
      // The engine must reproduce the integer reference (exactly, at the lossless ADC bound).
      r.int_logits = std::move(int_logits);
      r.int_predicted = predictions(r.int_logits);
      r.logits = cycle(in, options);
      if (r.logits.size() != n)
        throw std::logic_error("cycle evaluation returned the wrong number of images");
      r.float_logits = std::move(float_logits);
      break;
  }
  r.predicted = predictions(r.logits);
  if (!r.float_logits.empty()) r.float_predicted = predictions(r.float_logits);
  return r;
}

std::string eval_json(const EvalInputs& in, const EvalResult& r) {
  using nlohmann::ordered_json;
  const int64_t n = static_cast<int64_t>(r.labels.size());
  const int64_t correct = count_correct(r.predicted, r.labels);
  const Interval ci = wilson_interval(correct, n);
  ordered_json j;
  j["mode"] = to_string(r.mode);
  j["model"] = in.model;
  j["network"] = in.net.name;
  j["dataset"] = in.dataset.name;
  j["split"] = in.split->name;
  j["images"] = n;
  j["correct"] = correct;
  j["top1"] = n > 0 ? static_cast<double>(correct) / static_cast<double>(n) : 0.0;
  j["top1_ci95"] = {ci.low, ci.high};
  ordered_json classes = ordered_json::array();
  for (const auto& c : per_class_accuracy(r.predicted, r.labels, in.dataset.classes))
    classes.push_back(
        {{"name", c.name}, {"images", c.images}, {"correct", c.correct}, {"top1", c.top1}});
  j["per_class"] = classes;
  if (r.mode != EvalMode::Float) {
    const int64_t float_correct = count_correct(r.float_predicted, r.labels);
    j["float_correct"] = float_correct;
    j["float_top1"] = n > 0 ? static_cast<double>(float_correct) / static_cast<double>(n) : 0.0;
    j["agreement_with_float"] = agreement(r.predicted, r.float_predicted);
    j["mean_abs_logit_error"] = mean_abs_logit_difference(r.logits, r.float_logits);
    j["weight_bits"] = in.weight_bits;
    j["input_bits"] = in.input_bits;
    j["arch"] = in.arch ? in.arch_file : std::string("default");
    j["calibration"] = in.calibration_name();
    if (r.mode == EvalMode::Int) j["clamped_values"] = r.clamped;
    if (r.mode == EvalMode::Cycle) {
      double worst = 0.0;
      for (size_t k = 0; k < r.logits.size(); ++k)
        for (size_t c = 0; c < r.logits[k].size() && c < r.int_logits[k].size(); ++c)
          worst = std::max(worst, std::fabs(r.logits[k][c] - r.int_logits[k][c]));
      j["int_correct"] = count_correct(r.int_predicted, r.labels);
      j["agreement_with_int"] = agreement(r.predicted, r.int_predicted);
      j["max_abs_logit_difference_vs_int"] = worst;
    }
  }
  // Per-image top-1 predictions, in image order: paired comparisons of two runs need them.
  j["first_image"] = in.images.empty() ? 0 : in.images.front();
  j["predictions"] = r.predicted;
  return j.dump(2) + "\n";
}

std::string eval_table(const EvalInputs& in, const EvalResult& r) {
  const int64_t n = static_cast<int64_t>(r.labels.size());
  const int64_t correct = count_correct(r.predicted, r.labels);
  const Interval ci = wilson_interval(correct, n);
  const double top = n > 0 ? static_cast<double>(correct) / static_cast<double>(n) : 0.0;
  std::string out = fmt::format("imcsim eval: {} ({}) on {}/{}, {} images, mode {}", in.net.name,
                                in.model, in.dataset.name, in.split->name, n, to_string(r.mode));
  if (r.mode != EvalMode::Float)
    out += fmt::format(" ({}-bit weights, {}-bit activations, calibration {})", in.weight_bits,
                       in.input_bits, in.calibration_name());
  out += "\n";
  out += fmt::format("top-1 {}/{} = {} % (95 % CI {}-{} %)\n", correct, n, pct(top), pct(ci.low),
                     pct(ci.high));
  if (r.mode != EvalMode::Float) {
    const int64_t fc = count_correct(r.float_predicted, r.labels);
    const double agree = agreement(r.predicted, r.float_predicted);
    out += fmt::format(
        "float top-1 {}/{} = {} %; agreement with float {} %; mean |logit error| {:.4g}\n", fc, n,
        pct(n > 0 ? static_cast<double>(fc) / static_cast<double>(n) : 0.0), pct(agree),
        mean_abs_logit_difference(r.logits, r.float_logits));
    if (r.mode == EvalMode::Int) out += fmt::format("activation values clamped: {}\n", r.clamped);
  }
  size_t width = 5;
  for (const auto& c : in.dataset.classes) width = std::max(width, c.size());
  out += fmt::format("{:<{}}  {:>6}  {:>7}  {:>8}\n", "class", width, "images", "correct", "top-1");
  for (const auto& c : per_class_accuracy(r.predicted, r.labels, in.dataset.classes))
    out += fmt::format("{:<{}}  {:>6}  {:>7}  {:>6} %\n", c.name, width, c.images, c.correct,
                       pct(c.top1));
  return out;
}

}  // namespace imcsim::eval
