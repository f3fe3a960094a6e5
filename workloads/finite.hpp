// Finite or refused: a NaN or infinity in a weight, an input, a batch-norm statistic or a
// data-set value would flow through every layer after it and come out as NaN (or, quantized,
// as finite garbage), so every reader rejects it with the tensor, the first bad index and the
// file (REFERENCE is silent; imcsim's choice, README "Limits").
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace imcsim {

// Index of the first NaN or infinite value, -1 if all are finite.
template <class T>
int64_t first_non_finite(const std::vector<T>& values) {
  for (size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i])) return static_cast<int64_t>(i);
  return -1;
}

// "[2, 0, 1, 1] (flat 73)" for the flat C-order index `flat` of a tensor of `shape`.
inline std::string index_str(const std::vector<int64_t>& shape, int64_t flat) {
  std::string idx;
  int64_t rest = flat;
  std::vector<int64_t> digits(shape.size(), 0);
  for (size_t d = shape.size(); d-- > 0;) {
    if (shape[d] <= 0) break;
    digits[d] = rest % shape[d];
    rest /= shape[d];
  }
  for (size_t d = 0; d < digits.size(); ++d) idx += (d ? ", " : "") + std::to_string(digits[d]);
  return "[" + idx + "] (flat " + std::to_string(flat) + ")";
}

// "NaN", "+Inf" or "-Inf".
template <class T>
std::string non_finite_str(T v) {
  if (std::isnan(v)) return "NaN";
  return v > 0 ? "+Inf" : "-Inf";
}

}  // namespace imcsim
