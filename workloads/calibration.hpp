// Calibrated per-tensor activation quantization (REFERENCE §13: "activations are quantized
// per tensor with a scale and zero point calibrated on training images only (choice: max or
// a high percentile)"). `imcsim calibrate` computes it; `imcsim eval --mode int` and the
// reference executor's IntOptions::calibration use it.
//
// What is calibrated: every tensor the integer run holds as codes (ref::quantized_tensors:
// "input" and each layer whose output an array layer reads). For each, the float network is
// run on the first N images of a training split and the values of the tensor over all those
// images give a range [lo, hi]:
//  - method max: the smallest and the largest value;
//  - method percentile:P (50 < P <= 100): the order statistics sorted[k] and sorted[n-1-k]
//    of all n values, k = floor((100 - P) / 100 * (n - 1)), exact (no histogram): only the
//    k + 1 smallest and k + 1 largest values are kept, so 99.99 % on 512 CIFAR images keeps a
//    few thousand values per tensor. When the kept values of all tensors would exceed
//    kMaxCollectedValues, every s-th image is used instead (s the smallest stride that fits;
//    reported as image_stride).
// and then ref::act_quant_for_range(lo, hi, bits).
//
// File format (calib.yaml; numbers in shortest round-trip form, so reading gives the same
// doubles):
//   # imcsim calibration: per-tensor activation quantization x ~= scale * (code - zero_point)
//   network: resnet20
//   dataset: cifar10
//   split: train
//   images: 512
//   image_stride: 1
//   method: percentile:99.99
//   bits: 8
//   tensors:
//     input: {lo: -2.429, hi: 2.754, scale: 0.0203, zero_point: 120}
//     layers.0: {lo: ..., hi: ..., scale: ..., zero_point: ...}
// `scale` and `zero_point` are what the integer run uses; `lo`/`hi` (optional when written by
// hand) record the range they came from.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "workloads/dataset.hpp"
#include "workloads/network.hpp"
#include "workloads/reference.hpp"
#include "workloads/weights.hpp"

namespace imcsim {

// Bound on the values kept for percentile calibration, over all tensors (doubles: 512 MB).
inline constexpr int64_t kMaxCollectedValues = 64'000'000;

struct CalibrationMethod {
  bool percentile = false;
  double p = 100.0;          // percentile method only, in (50, 100]
  std::string text() const;  // "max" or "percentile:P"
};
// "max" or "percentile:P" with P a number in (50, 100]; nullopt otherwise.
std::optional<CalibrationMethod> parse_calibration_method(const std::string& text);

struct CalibratedTensor {
  std::string name;  // "input" or the producing layer's name
  double lo = 0.0, hi = 0.0;
  ref::ActQuant quant;
};

struct Calibration {
  std::string file;  // where it was read from ("" = computed)
  std::string network, dataset, split, method;
  int64_t images = 0;        // images of the split it was computed on (the first `images`)
  int64_t image_stride = 1;  // every image_stride-th of them was used
  int bits = 8;
  std::vector<CalibratedTensor> tensors;  // in the order of ref::quantized_tensors(net)

  // What IntOptions::calibration takes.
  std::map<std::string, ref::ActQuant> act_quant() const;
};

struct CalibrationOptions {
  int64_t images = 512;  // the first `images` of the split (all of them when fewer)
  CalibrationMethod method;
  int bits = 8;
  int threads = 1;  // float runs on this many threads (the result does not depend on it)
  int64_t max_collected = kMaxCollectedValues;
  // Called after each image with (images done, images to do); from the calling thread.
  std::function<void(int64_t, int64_t)> progress;
};

// Runs the float network on the split's images and calibrates every quantized tensor.
// WorkloadError when the images do not fit the network input or a value is not finite.
Calibration calibrate(const Network& net, const WeightSet& weights, const Dataset& dataset,
                      const Split& split, const CalibrationOptions& options);

std::string calibration_yaml(const Calibration& calibration);

// Reads and checks a calibration file against `net`: unknown keys, tensors the network does
// not quantize, tensors it needs that are missing (listed), scale <= 0 or non-finite,
// zero_point outside 0 .. 2^bits - 1, and, when expected_bits > 0 (the architecture's
// input_bits), bits that differ. WorkloadError naming file, line and key.
Calibration load_calibration(const std::string& path, const Network& net, int expected_bits = 0);

}  // namespace imcsim
