// NumPy .npy files (format versions 1.0, 2.0 and 3.0): the weights of trained networks
// arrive as one .npy per tensor (../shared/data/resnet20-cifar10). Only what a weight file
// needs is read: little-endian (or byte-order-free) float32/float64/signed/unsigned integer
// and bool arrays in C order. Anything else, and any truncated or malformed file, is a
// WorkloadError naming the file and what was expected.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "workloads/weights.hpp"

namespace imcsim {

struct NpyArray {
  std::string dtype;           // the header's descr, e.g. "<f4", "|u1"
  std::vector<int64_t> shape;  // () for a scalar
  std::vector<double> values;  // C order; every supported dtype converts exactly except
                               // 64-bit integers beyond 2^53 (rejected)
  int64_t size() const;
};

// Reads `bytes` that came from `file` (the name is only used in errors).
NpyArray parse_npy(const std::string& bytes, const std::string& file);
NpyArray read_npy(const std::string& path);
// read_npy converted to a float32 Tensor (float64 values are rounded to float32).
Tensor read_npy_tensor(const std::string& path);

// Serializes a float32 tensor as .npy version 1.0 ('<f4', C order).
std::string npy_bytes(const Tensor& t);
void write_npy(const std::string& path, const Tensor& t);

}  // namespace imcsim
