// Shared pieces of the engine tests: random layers, a plain nested-loop integer
// convolution (the oracle), and an EngineConfig builder.
#pragma once

#include <cstdint>
#include <vector>

#include "mappers/mapper.hpp"
#include "mappers/schedule.hpp"
#include "models/engine.hpp"
#include "workloads/weights.hpp"

namespace imcsim::test {

// out[oc][oy][ox] = sum_{c,kh,kw} w[oc][c][kh][kw] * in[g*icg + c][oy*s + kh - p][ox*s + kw - p]
inline std::vector<int64_t> conv_oracle(const ConvShape& s, const std::vector<int64_t>& in,
                                        const std::vector<int32_t>& w) {
  const int64_t pad_h = s.pad_top, pad_w = s.pad_left;
  const int64_t oc_total = s.oc * s.groups;
  std::vector<int64_t> out(static_cast<size_t>(oc_total * s.o_h * s.o_w), 0);
  for (int64_t oc = 0; oc < oc_total; ++oc) {
    const int64_t g = oc / s.oc;
    for (int64_t oy = 0; oy < s.o_h; ++oy)
      for (int64_t ox = 0; ox < s.o_w; ++ox) {
        int64_t sum = 0;
        for (int64_t c = 0; c < s.ic; ++c)
          for (int64_t kh = 0; kh < s.k_h; ++kh)
            for (int64_t kw = 0; kw < s.k_w; ++kw) {
              const int64_t iy = oy * s.s_h + kh - pad_h, ix = ox * s.s_w + kw - pad_w;
              if (iy < 0 || ix < 0 || iy >= s.in_h || ix >= s.in_w) continue;
              sum += static_cast<int64_t>(
                         w[static_cast<size_t>(((oc * s.ic + c) * s.k_h + kh) * s.k_w + kw)]) *
                     in[static_cast<size_t>(((g * s.ic + c) * s.in_h + iy) * s.in_w + ix)];
            }
        out[static_cast<size_t>((oc * s.o_h + oy) * s.o_w + ox)] = sum;
      }
  }
  return out;
}

inline std::vector<int64_t> random_codes(SeededStream& rng, int64_t n, int64_t bits) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<int64_t>(rng.next_u64() % (uint64_t{1} << bits));
  return v;
}

inline std::vector<int32_t> random_weights(SeededStream& rng, int64_t n, int64_t bits) {
  const int64_t q = (int64_t{1} << (bits - 1)) - 1;
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (auto& x : v)
    x = static_cast<int32_t>(static_cast<int64_t>(rng.next_u64() % (2 * q + 1)) - q);
  return v;
}

inline EngineConfig make_config(int64_t rows, int64_t cols, int64_t cell_bits, int64_t weight_bits,
                                int64_t input_bits, int64_t dac_bits, int64_t adc_bits,
                                int64_t adc_share, int64_t arrays, bool differential) {
  EngineConfig c;
  c.datapath.rows = rows;
  c.datapath.cell_bits = cell_bits;
  c.datapath.weight_bits = weight_bits;
  c.datapath.input_bits = input_bits;
  c.datapath.dac_bits = dac_bits;
  c.datapath.adc_bits = adc_bits;
  c.datapath.differential = differential;
  c.cols = cols;
  c.adc_share = adc_share;
  c.num_arrays = arrays;
  return c;
}

inline ArrayGeometry geometry_of(const EngineConfig& c) {
  return {c.datapath.rows, c.cols, c.datapath.cols_per_weight()};
}

}  // namespace imcsim::test
