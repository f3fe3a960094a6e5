#include "models/datapath.hpp"

#include <cmath>

#include <fmt/format.h>

#include "workloads/error.hpp"

namespace imcsim {

int64_t DatapathParams::full_scale() const {
  return rows * ((int64_t{1} << cell_bits) - 1) * ((int64_t{1} << dac_bits) - 1);
}

int64_t DatapathParams::lossless_adc_bits() const {
  int64_t bits = 0;
  while ((int64_t{1} << bits) < full_scale() + 1) ++bits;
  return bits;
}

int DatapathParams::lsb_shift() const {
  const int64_t need = lossless_adc_bits();
  return static_cast<int>(need > adc_bits ? need - adc_bits : 0);
}

TileCells program_tile(const TileSchedule& s, const TileSpec& tile, const int32_t* wq,
                       const DatapathParams& p) {
  const ConvShape& shape = s.mapping.shape;
  TileCells t;
  t.n_rows = static_cast<int64_t>(tile.rows.size());
  t.words = (t.n_rows + 63) / 64;
  t.n_wcols = static_cast<int64_t>(tile.cols.size());
  const int64_t slices = p.slices(), pol = p.polarities(), cpw = p.cols_per_weight();
  t.n_phys = t.n_wcols * cpw;
  t.planes.assign(static_cast<size_t>(t.n_phys * p.cell_bits * t.words), 0);
  t.mapped.assign(static_cast<size_t>(t.n_wcols * t.words), 0);
  t.polarity.resize(static_cast<size_t>(t.n_phys));
  t.weight_sum.assign(static_cast<size_t>(t.n_wcols), 0);
  t.slice.resize(static_cast<size_t>(t.n_phys));
  const int64_t qmax = (int64_t{1} << (p.weight_bits - 1)) - 1;
  const int64_t cell_mask = (int64_t{1} << p.cell_bits) - 1;
  for (int64_t j = 0; j < t.n_wcols; ++j) {
    for (int64_t q = 0; q < pol; ++q) {
      for (int64_t k = 0; k < slices; ++k) {
        const int64_t phys = j * cpw + q * slices + k;
        t.polarity[static_cast<size_t>(phys)] = q == 0 ? 1 : -1;
        t.slice[static_cast<size_t>(phys)] = static_cast<int8_t>(k);
      }
    }
  }
  for (int64_t r = 0; r < t.n_rows; ++r) {
    const RowSlot& row = tile.rows[static_cast<size_t>(r)];
    const uint64_t bit = uint64_t{1} << (r % 64);
    const int64_t word = r / 64;
    for (int64_t j = 0; j < t.n_wcols; ++j) {
      const ColSlot& col = tile.cols[static_cast<size_t>(j)];
      if (!s.holds_weight(row, col)) continue;
      const int64_t kh = row.ph - col.dy * shape.s_h, kw = row.pw - col.dx * shape.s_w;
      const int64_t oc = tile.group * shape.oc + col.oc;
      const int64_t w = wq[((oc * shape.ic + row.c) * shape.k_h + kh) * shape.k_w + kw];
      if (w > qmax || w < -qmax) {
        throw MappingError("", 0, s.layer,
                           fmt::format("quantized weight {} outside +-{} ({}-bit signed)", w,
                                       qmax, p.weight_bits));
      }
      t.mapped[static_cast<size_t>(j * t.words + word)] |= bit;
      t.weight_sum[static_cast<size_t>(j)] += w;
      t.mapped_cells += cpw;
      for (int64_t q = 0; q < pol; ++q) {
        // Stored magnitude of this polarity: offset encoding stores w + 2^(b-1) >= 1;
        // a differential pair stores max(w, 0) and max(-w, 0).
        const int64_t stored = p.differential ? (q == 0 ? std::max<int64_t>(w, 0)
                                                        : std::max<int64_t>(-w, 0))
                                              : w + p.offset();
        for (int64_t k = 0; k < slices; ++k) {
          const int64_t cell = (stored >> (k * p.cell_bits)) & cell_mask;
          if (cell == 0) continue;
          ++t.nonzero_cells;
          const int64_t phys = j * cpw + q * slices + k;
          for (int64_t b = 0; b < p.cell_bits; ++b) {
            if ((cell >> b) & 1)
              t.planes[static_cast<size_t>((phys * p.cell_bits + b) * t.words + word)] |= bit;
          }
        }
      }
    }
  }
  return t;
}

void input_planes(const std::vector<int64_t>& codes, int64_t words, int64_t input_bits,
                  std::vector<uint64_t>& planes) {
  planes.assign(static_cast<size_t>(input_bits * words), 0);
  for (size_t r = 0; r < codes.size(); ++r) {
    uint64_t v = static_cast<uint64_t>(codes[r]);
    const uint64_t bit = uint64_t{1} << (r % 64);
    const size_t word = r / 64;
    for (int64_t b = 0; v != 0 && b < input_bits; ++b, v >>= 1) {
      if (v & 1) planes[static_cast<size_t>(b * words) + word] |= bit;
    }
  }
}

void column_sums(const TileCells& cells, const std::vector<uint64_t>& in_planes, int64_t phase,
                 const DatapathParams& p, int64_t* sums) {
  const int64_t words = cells.words;
  for (int64_t c = 0; c < cells.n_phys; ++c) {
    int64_t sum = 0;
    for (int64_t i = 0; i < p.dac_bits; ++i) {
      const int64_t in_bit = phase * p.dac_bits + i;
      if (in_bit >= p.input_bits) break;
      const uint64_t* x = &in_planes[static_cast<size_t>(in_bit * words)];
      for (int64_t b = 0; b < p.cell_bits; ++b) {
        const uint64_t* g = &cells.planes[static_cast<size_t>((c * p.cell_bits + b) * words)];
        int64_t count = 0;
        for (int64_t w = 0; w < words; ++w) count += __builtin_popcountll(x[w] & g[w]);
        sum += count << (i + b);
      }
    }
    sums[c] = sum;
  }
}

void shift_add(const TileCells& cells, const int64_t* codes, int64_t phase,
               const DatapathParams& p, int64_t* acc) {
  const int lsb = p.lsb_shift();
  const int64_t cpw = p.cols_per_weight();
  for (int64_t c = 0; c < cells.n_phys; ++c) {
    const int64_t shift = phase * p.dac_bits + cells.slice[static_cast<size_t>(c)] * p.cell_bits + lsb;
    const int64_t v = codes[c] << shift;
    acc[c / cpw] += cells.polarity[static_cast<size_t>(c)] > 0 ? v : -v;
  }
}

void signed_input_correction(const TileCells& cells, const DatapathParams& p, int64_t* acc) {
  const int64_t offset = int64_t{1} << (p.input_bits - 1);
  for (int64_t j = 0; j < cells.n_wcols; ++j) acc[j] -= offset * cells.weight_sum[static_cast<size_t>(j)];
}

void offset_correction(const TileCells& cells, const std::vector<uint64_t>& in_planes,
                       const DatapathParams& p, int64_t* acc) {
  if (p.differential) return;
  const int64_t words = cells.words;
  for (int64_t j = 0; j < cells.n_wcols; ++j) {
    const uint64_t* m = &cells.mapped[static_cast<size_t>(j * words)];
    int64_t sum = 0;
    for (int64_t b = 0; b < p.input_bits; ++b) {
      const uint64_t* x = &in_planes[static_cast<size_t>(b * words)];
      int64_t count = 0;
      for (int64_t w = 0; w < words; ++w) count += __builtin_popcountll(x[w] & m[w]);
      sum += count << b;
    }
    acc[j] -= p.offset() * sum;
  }
}

}  // namespace imcsim
