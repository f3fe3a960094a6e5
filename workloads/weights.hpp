// Layer weights: the numbers behind a Network. Loaded from files (.npy, ONNX) or
// synthesized from a seed, and handed on as plain values (DESIGN.md data flow:
// workload.yaml (+ weights .npy | seeded synthetic) -> Network).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "workloads/network.hpp"

namespace imcsim {

// A dense float32 tensor in C (row-major) order; conv weights are OIHW
// (out_channels, in_channels / groups, k_h, k_w), fc weights (out_features, in_features).
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;

  Tensor() = default;
  explicit Tensor(std::vector<int64_t> dims);
  int64_t size() const;
  std::string shape_str() const;  // "16x3x3x3"
};

// Inference-mode BatchNorm after a conv/fc: y = gamma * (x - mean) / sqrt(var + eps) + beta.
struct BatchNormParams {
  std::vector<float> gamma, beta, mean, var;
  float eps = 1e-5f;
};

struct LayerWeights {
  Tensor weight;
  std::vector<float> bias;  // empty when the layer has no bias
  std::optional<BatchNormParams> bn;
};

struct WeightSet {
  std::string source;  // "synthetic(seed=N)" or the folder/file it came from
  std::map<std::string, LayerWeights> layers;  // by layer name, for conv and fc layers

  const LayerWeights& at(const std::string& layer) const;  // WorkloadError if absent
};

// The shape a layer's weight tensor must have.
std::vector<int64_t> expected_weight_shape(const Layer& layer);

// Deterministic synthetic weights for every conv/fc layer: Kaiming-uniform
// U(-sqrt(6/fan_in), +sqrt(6/fan_in)), bias U(-0.1, 0.1) where the layer has one, and for
// layers with `bn: true` gamma U(0.5, 1.5), beta/mean U(-0.1, 0.1), var U(0.5, 1.5).
// Each layer draws from its own stream seeded by (seed, layer name), so the numbers of a
// layer do not change when other layers are added. Same seed => same bits on every machine
// (SplitMix64, no std:: distributions).
WeightSet synthetic_weights(const Network& net, uint64_t seed);

// A tensor of `shape` filled with U(lo, hi) from SeededStream(seed) (tests, synthetic data).
Tensor uniform_tensor(std::vector<int64_t> shape, uint64_t seed, double lo, double hi);

// Checks every conv/fc layer has weights of the right shape (and bias / BN sizes).
// WorkloadError naming the layer, the expected and the actual shape otherwise.
void check_weights(const Network& net, const WeightSet& weights);
// The values of one layer's tensors: every weight, bias and batch-norm statistic finite, every
// running variance >= 0 with var + eps > 0 (else the folded scale is NaN). Called by
// check_weights; `source` names the file or folder in errors.
void check_weight_values(const std::string& layer, const LayerWeights& lw,
                         const std::string& source);

// SplitMix64 stream: the project's portable source of seeded random numbers.
class SeededStream {
 public:
  explicit SeededStream(uint64_t seed) : state_(seed) {}
  static SeededStream for_name(uint64_t seed, const std::string& name);
  uint64_t next_u64();
  double uniform();                      // [0, 1)
  double uniform(double lo, double hi);  // [lo, hi)

 private:
  uint64_t state_;
};

}  // namespace imcsim
