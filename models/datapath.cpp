#include "models/datapath.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <tuple>

#include "workloads/error.hpp"

// The bit-plane kernels are integer-only, so a clone per instruction set gives the same
// numbers on every machine: hardware POPCNT (x86-64-v2), AVX2 (x86-64-v3: 64-bit compares
// and shifts for the ADC stage) and AVX-512 VPOPCNTQ where the CPU has them, chosen at load
// time (GCC function multiversioning); plain code elsewhere.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define IMCSIM_POPCOUNT_CLONES \
  __attribute__((target_clones("arch=icelake-server", "arch=x86-64-v3", "popcnt", "default")))
#define IMCSIM_AVX512_POPCOUNT \
  __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx512vpopcntdq,avx2,bmi2,popcnt")))
#else
#define IMCSIM_POPCOUNT_CLONES
#endif

namespace imcsim {

int64_t DatapathParams::full_scale() const {
  return rows * ((int64_t{1} << cell_bits) - 1) * ((int64_t{1} << dac_bits) - 1);
}

int64_t DatapathParams::lossless_adc_bits() const {
  return imcsim::lossless_adc_bits(rows, cell_bits, dac_bits);
}

int DatapathParams::lsb_shift() const {
  const int64_t need = lossless_adc_bits();
  return static_cast<int>(need > adc_bits ? need - adc_bits : 0);
}

TileCells program_tile(const TileSchedule& s, const TileSpec& tile, const int32_t* wq,
                       const DatapathParams& p, const uint8_t* odd_grid) {
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
  t.col_mul.assign(static_cast<size_t>(t.n_wcols), 1);
  t.col_offset.assign(static_cast<size_t>(t.n_wcols), p.offset());
  const int64_t sym_max = (int64_t{1} << (p.weight_bits - 1)) - 1;
  const int64_t odd_max = (int64_t{1} << p.weight_bits) - 1;
  auto is_odd = [&](const ColSlot& col) {
    return odd_grid && odd_grid[tile.group * shape.oc + col.oc] != 0;
  };
  for (int64_t j = 0; j < t.n_wcols; ++j) {
    if (!p.differential && is_odd(tile.cols[static_cast<size_t>(j)])) {
      t.col_mul[static_cast<size_t>(j)] = 2;
      t.col_offset[static_cast<size_t>(j)] = odd_max;
    }
  }
  const int64_t cell_mask = (int64_t{1} << p.cell_bits) - 1;
  for (int64_t j = 0; j < t.n_wcols; ++j) {
    for (int64_t q = 0; q < pol; ++q) {
      for (int64_t k = 0; k < slices; ++k) {
        const int64_t phys = j * cpw + q * slices + k;
        t.polarity[static_cast<size_t>(phys)] = q == 0 ? 1 : -1;
        t.slice[static_cast<size_t>(phys)] = static_cast<int8_t>(k);
        t.phys_mul.push_back((q == 0 ? 1 : -1) * t.col_mul[static_cast<size_t>(j)] *
                             (int64_t{1} << (k * p.cell_bits)));
      }
    }
  }
  // Locals for the loop below: its stores into the planes could alias the fields otherwise.
  const int64_t cell_bits = p.cell_bits, words = t.words;
  const bool differential = p.differential;
  uint64_t* planes = t.planes.data();
  uint64_t* mapped_rows = t.mapped.data();
  int64_t* weight_sum = t.weight_sum.data();
  const int64_t* col_offset = t.col_offset.data();
  const int64_t* col_mul = t.col_mul.data();
  const int64_t n_wcols = t.n_wcols, s_h = shape.s_h, s_w = shape.s_w, k_h = shape.k_h,
                k_w = shape.k_w, ic = shape.ic, oc0 = tile.group * shape.oc;
  int64_t nonzero = 0, mapped = 0;
  // Column by column: a column's weights are one output channel's (contiguous in OIHW) and
  // its plane words are written 64 rows at a time.
  for (int64_t j = 0; j < n_wcols; ++j) {
    const ColSlot& col = tile.cols[static_cast<size_t>(j)];
    for (int64_t r = 0; r < t.n_rows; ++r) {
      const RowSlot& row = tile.rows[static_cast<size_t>(r)];
      const uint64_t bit = uint64_t{1} << (r % 64);
      const int64_t word = r / 64;
      if (!s.holds_weight(row, col)) continue;
      const int64_t kh = row.ph - col.dy * s_h, kw = row.pw - col.dx * s_w;
      const int64_t oc = oc0 + col.oc;
      const int64_t w = wq[((oc * ic + row.c) * k_h + kh) * k_w + kw];
      const bool odd = is_odd(col);
      const int64_t qmax = odd ? odd_max : sym_max;
      if (w > qmax || w < -qmax || (odd && w % 2 == 0)) {
        throw MappingError("", 0, s.layer,
                           fmt::format("quantized weight {} outside {} ({}-bit {})", w,
                                       odd ? fmt::format("the odd values +-1..{}", qmax)
                                           : fmt::format("+-{}", qmax),
                                       p.weight_bits, odd ? "odd grid" : "signed"));
      }
      mapped_rows[j * words + word] |= bit;
      weight_sum[j] += w;
      mapped += cpw;
      for (int64_t q = 0; q < pol; ++q) {
        // Stored magnitude of this polarity: offset encoding stores
        // (w + col_offset) / col_mul >= 0 (col_mul 1 or 2: a shift, not a division, which
        // was a sixth of this function's time); a differential pair stores max(w, 0) and
        // max(-w, 0).
        const int64_t stored = differential
                                   ? (q == 0 ? std::max<int64_t>(w, 0) : std::max<int64_t>(-w, 0))
                                   : (w + col_offset[j]) >> (col_mul[j] - 1);
        // Branch-free: the cells' bits are as good as random, so a test per bit would be
        // mispredicted about half the time (that test took most of this function's time).
        uint64_t* plane = planes + ((j * cpw + q * slices) * cell_bits) * words + word;
        for (int64_t k = 0; k < slices; ++k) {
          const uint64_t cell = static_cast<uint64_t>((stored >> (k * cell_bits)) & cell_mask);
          nonzero += cell != 0;
          for (int64_t b = 0; b < cell_bits; ++b, plane += words)
            *plane |= ((cell >> b) & 1u) << (r % 64);
        }
      }
    }
  }
  t.nonzero_cells = nonzero;
  t.mapped_cells = mapped;
  return t;
}

namespace {

// Copies `n` bits of a row bit vector into `dst` starting at bit `shift`.
void copy_rows(const uint64_t* src, int64_t n, uint64_t* dst, int64_t shift) {
  for (int64_t r = 0; r < n; ++r) {
    if (!((src[r / 64] >> (r % 64)) & 1u)) continue;
    const int64_t d = r + shift;
    dst[d / 64] |= uint64_t{1} << (d % 64);
  }
}

template <typename T>
void append(std::vector<T>& to, const std::vector<T>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

}  // namespace

TileCells stack_cells(const TileCells& a, const TileCells& b, const DatapathParams& p) {
  TileCells t;
  t.n_rows = a.n_rows + b.n_rows;
  t.words = (t.n_rows + 63) / 64;
  t.n_wcols = a.n_wcols + b.n_wcols;
  t.n_phys = a.n_phys + b.n_phys;
  t.planes.assign(static_cast<size_t>(t.n_phys * p.cell_bits * t.words), 0);
  t.mapped.assign(static_cast<size_t>(t.n_wcols * t.words), 0);
  for (const auto& [part, col0, row0] :
       {std::tuple<const TileCells*, int64_t, int64_t>{&a, 0, 0},
        std::tuple<const TileCells*, int64_t, int64_t>{&b, a.n_phys, a.n_rows}}) {
    for (int64_t c = 0; c < part->n_phys * p.cell_bits; ++c)
      copy_rows(&part->planes[static_cast<size_t>(c * part->words)], part->n_rows,
                &t.planes[static_cast<size_t>((col0 * p.cell_bits + c) * t.words)], row0);
    const int64_t wcol0 = part == &a ? 0 : a.n_wcols;
    for (int64_t j = 0; j < part->n_wcols; ++j)
      copy_rows(&part->mapped[static_cast<size_t>(j * part->words)], part->n_rows,
                &t.mapped[static_cast<size_t>((wcol0 + j) * t.words)], row0);
  }
  for (const TileCells* part : {&a, &b}) {
    append(t.polarity, part->polarity);
    append(t.slice, part->slice);
    append(t.weight_sum, part->weight_sum);
    append(t.col_mul, part->col_mul);
    append(t.col_offset, part->col_offset);
    append(t.phys_mul, part->phys_mul);
    t.nonzero_cells += part->nonzero_cells;
    t.mapped_cells += part->mapped_cells;
  }
  return t;
}

namespace {

// The 8x8 bit matrix in `x` (row i in byte i, column j in bit j) transposed: bit j of byte
// i moves to bit i of byte j (Hacker's Delight, 7-3).
inline uint64_t transpose8(uint64_t x) {
  uint64_t t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AAull;
  x ^= t ^ (t << 7);
  t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCCull;
  x ^= t ^ (t << 14);
  t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0ull;
  return x ^ t ^ (t << 28);
}

}  // namespace

void input_planes(const std::vector<int64_t>& codes, int64_t words, int64_t input_bits,
                  std::vector<uint64_t>& planes) {
  planes.assign(static_cast<size_t>(input_bits * words), 0);
  size_t r = 0;
  if (input_bits <= 8) {
    // Eight rows at a time: their codes as the bytes of a word, transposed, give each
    // plane's eight bits of those rows as one byte (bits above input_bits are dropped, as
    // the row-by-row loop below drops them).
    for (; r + 8 <= codes.size(); r += 8) {
      uint64_t x = 0;
      for (size_t i = 0; i < 8; ++i) x |= (static_cast<uint64_t>(codes[r + i]) & 0xFF) << (8 * i);
      if (x == 0) continue;
      const uint64_t y = transpose8(x);
      const size_t word = r / 64;
      const int shift = static_cast<int>(r % 64);
      for (int64_t b = 0; b < input_bits; ++b)
        planes[static_cast<size_t>(b * words) + word] |= ((y >> (8 * b)) & 0xFF) << shift;
    }
  }
  for (; r < codes.size(); ++r) {
    uint64_t v = static_cast<uint64_t>(codes[r]);
    const uint64_t bit = uint64_t{1} << (r % 64);
    const size_t word = r / 64;
    for (int64_t b = 0; v != 0 && b < input_bits; ++b, v >>= 1) {
      if (v & 1) planes[static_cast<size_t>(b * words) + word] |= bit;
    }
  }
}

namespace {

// Column sums of one input plane `x` for cells of `cell_bits` bits over `words` words, added
// to sums[c] << shift. W, B > 0 fix the word and bit counts at compile time (the loops
// unroll); 0 takes them from the arguments.
#if defined(__GNUC__)
#define IMCSIM_INLINE inline __attribute__((always_inline))  // into each clone of the caller
#else
#define IMCSIM_INLINE inline
#endif

template <int64_t W, int64_t B>
IMCSIM_INLINE void plane_sums(const uint64_t* planes, int64_t n_phys, int64_t words,
                              int64_t cell_bits, const uint64_t* x, int shift, int64_t* sums) {
  const int64_t nw = W > 0 ? W : words, nb = B > 0 ? B : cell_bits;
  for (int64_t c = 0; c < n_phys; ++c) {
    const uint64_t* g = planes + c * nb * nw;
    int64_t sum = 0;
    for (int64_t b = 0; b < nb; ++b) {
      int64_t count = 0;
      for (int64_t w = 0; w < nw; ++w) count += __builtin_popcountll(x[w] & g[b * nw + w]);
      sum += count << b;
    }
    sums[c] += sum << shift;
  }
}

}  // namespace

IMCSIM_POPCOUNT_CLONES
void column_sums(const TileCells& cells, const std::vector<uint64_t>& in_planes, int64_t phase,
                 const DatapathParams& p, int64_t* sums) {
  const int64_t words = cells.words;
  std::fill(sums, sums + cells.n_phys, int64_t{0});
  for (int64_t i = 0; i < p.dac_bits; ++i) {
    const int64_t in_bit = phase * p.dac_bits + i;
    if (in_bit >= p.input_bits) break;
    const uint64_t* x = &in_planes[static_cast<size_t>(in_bit * words)];
    const uint64_t* g = cells.planes.data();
    const int sh = static_cast<int>(i);
    const int64_t n = cells.n_phys, cb = p.cell_bits;
    // The common shapes (1-4 words: up to 256 rows; 1- or 2-bit cells) unrolled.
    if (cb == 2 && words == 1)
      plane_sums<1, 2>(g, n, words, cb, x, sh, sums);
    else if (cb == 2 && words == 2)
      plane_sums<2, 2>(g, n, words, cb, x, sh, sums);
    else if (cb == 2 && words == 4)
      plane_sums<4, 2>(g, n, words, cb, x, sh, sums);
    else if (cb == 1 && words == 2)
      plane_sums<2, 1>(g, n, words, cb, x, sh, sums);
    else
      plane_sums<0, 0>(g, n, words, cb, x, sh, sums);
  }
}

IMCSIM_POPCOUNT_CLONES
void convert_shift_add_all(const TileCells& cells, const int64_t* sums, const DatapathParams& p,
                           int64_t* acc) {
  // sum_ph sum_k code[ph][k] * mul[k] * 2^(ph * dac_bits + lsb)
  //   = 2^lsb * sum_k mul[k] * (sum_ph code[ph][k] << (ph * dac_bits)): integers, any order.
  const int lsb = p.lsb_shift();
  const int64_t half = lsb == 0 ? 0 : int64_t{1} << (lsb - 1);
  const int64_t top = (int64_t{1} << p.adc_bits) - 1;
  const int64_t n = cells.n_phys, phases = p.phases(), cpw = p.cols_per_weight(), dac = p.dac_bits;
  // Per physical column, sum_ph code << (ph * dac_bits): contiguous element-wise passes
  // (the compiler vectorizes them), then one multiply per column.
  thread_local std::vector<int64_t> codes;
  codes.assign(static_cast<size_t>(n), 0);
  int64_t* c = codes.data();
  for (int64_t ph = 0; ph < phases; ++ph) {
    const int64_t* s = sums + ph * n;
    const int64_t sh = ph * dac;
    for (int64_t k = 0; k < n; ++k) {
      const int64_t code = (s[k] + half) >> lsb;  // adc_convert
      c[k] += (code > top ? top : code) << sh;
    }
  }
  const int64_t* mul = cells.phys_mul.data();
  const int64_t n_wcols = cells.n_wcols;
  for (int64_t j = 0; j < n_wcols; ++j) {
    int64_t v = 0;
    for (int64_t k = j * cpw; k < (j + 1) * cpw; ++k) v += c[k] * mul[k];
    acc[j] += v * (int64_t{1} << lsb);  // v may be negative: no left shift of it (C++17)
  }
}

WindowKernel::WindowKernel(const TileCells& cells, const DatapathParams& p) : cells_(cells), p_(p) {
  const int64_t n = cells.n_phys, nw = cells.words, nb = p.cell_bits, nj = cells.n_wcols;
  planes_t_.resize(static_cast<size_t>(nb * nw * n));
  for (int64_t c = 0; c < n; ++c)
    for (int64_t b = 0; b < nb; ++b)
      for (int64_t w = 0; w < nw; ++w)
        planes_t_[static_cast<size_t>((b * nw + w) * n + c)] =
            cells.planes[static_cast<size_t>((c * nb + b) * nw + w)];
  mapped_t_.resize(static_cast<size_t>(nw * nj));
  for (int64_t j = 0; j < nj; ++j)
    for (int64_t w = 0; w < nw; ++w)
      mapped_t_[static_cast<size_t>(w * nj + j)] = cells.mapped[static_cast<size_t>(j * nw + w)];
  inputs_.resize(static_cast<size_t>(nj));
}

namespace {

// s[c] += popcount(x & g[c]) << shift for c < n: one input word against a run of columns
// (the loop the compiler vectorizes, with VPOPCNTQ where the CPU has it).
IMCSIM_INLINE void word_sums(uint64_t x, const uint64_t* g, int64_t n, int shift, int64_t* s) {
  for (int64_t c = 0; c < n; ++c)
    s[c] += static_cast<int64_t>(__builtin_popcountll(x & g[c])) << shift;
}

struct KernelArgs {
  const uint64_t* x;  // input planes [bit * words + w]
  const uint64_t* g;  // planes_t or mapped_t
  int64_t n, words, cell_bits, dac_bits, input_bits;
};

IMCSIM_INLINE void window_sums_body(const KernelArgs& a, int64_t* sums) {
  const int64_t phases = (a.input_bits + a.dac_bits - 1) / a.dac_bits;
  std::fill(sums, sums + phases * a.n, int64_t{0});
  for (int64_t ph = 0; ph < phases; ++ph) {
    int64_t* s = sums + ph * a.n;
    // the last phase may be short
    const int64_t bits_here = std::min(a.dac_bits, a.input_bits - ph * a.dac_bits);
    for (int64_t i = 0; i < bits_here; ++i)
      for (int64_t w = 0; w < a.words; ++w) {
        const uint64_t xw = a.x[(ph * a.dac_bits + i) * a.words + w];
        if (xw == 0) continue;
        for (int64_t b = 0; b < a.cell_bits; ++b)
          word_sums(xw, a.g + (b * a.words + w) * a.n, a.n, static_cast<int>(i + b), s);
      }
  }
}

// in[j] = sum over the input bits b of 2^b popcount(plane_b & mapped_j).
IMCSIM_INLINE void input_sums_body(const KernelArgs& a, int64_t* in) {
  std::fill(in, in + a.n, int64_t{0});
  for (int64_t b = 0; b < a.input_bits; ++b)
    for (int64_t w = 0; w < a.words; ++w) {
      const uint64_t xw = a.x[b * a.words + w];
      if (xw != 0) word_sums(xw, a.g + w * a.n, a.n, static_cast<int>(b), in);
    }
}

// One build per instruction set: AVX-512 with VPOPCNTQ picked at run time where the CPU
// has it (chosen by feature, not by CPU model: virtual machines often report none), else
// the clones above. Integer-only: the same numbers on every machine.
IMCSIM_POPCOUNT_CLONES void window_sums_any(const KernelArgs& a, int64_t* sums) {
  window_sums_body(a, sums);
}
IMCSIM_POPCOUNT_CLONES void input_sums_any(const KernelArgs& a, int64_t* in) {
  input_sums_body(a, in);
}
#ifdef IMCSIM_AVX512_POPCOUNT
IMCSIM_AVX512_POPCOUNT void window_sums_avx512(const KernelArgs& a, int64_t* sums) {
  window_sums_body(a, sums);
}
IMCSIM_AVX512_POPCOUNT void input_sums_avx512(const KernelArgs& a, int64_t* in) {
  input_sums_body(a, in);
}
#endif

struct Kernels {
  void (*window_sums)(const KernelArgs&, int64_t*);
  void (*input_sums)(const KernelArgs&, int64_t*);
};

// The builds this CPU runs, chosen once.
const Kernels& kernels() {
  static const Kernels k = [] {
#ifdef IMCSIM_AVX512_POPCOUNT
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vpopcntdq") && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("bmi2"))
      return Kernels{window_sums_avx512, input_sums_avx512};
#endif
    return Kernels{window_sums_any, input_sums_any};
  }();
  return k;
}

}  // namespace

void WindowKernel::column_sums(const std::vector<uint64_t>& in_planes, int64_t* sums) const {
  kernels().window_sums({in_planes.data(), planes_t_.data(), cells_.n_phys, cells_.words,
                         p_.cell_bits, p_.dac_bits, p_.input_bits},
                        sums);
}

void WindowKernel::offset_correction(const std::vector<uint64_t>& in_planes, int64_t* acc) const {
  if (p_.differential) return;
  int64_t* in = inputs_.data();
  kernels().input_sums(
      {in_planes.data(), mapped_t_.data(), cells_.n_wcols, cells_.words, 1, 1, p_.input_bits}, in);
  const int64_t* off = cells_.col_offset.data();
  for (int64_t j = 0; j < cells_.n_wcols; ++j) acc[j] -= off[j] * in[j];
}

void shift_add(const TileCells& cells, const int64_t* codes, int64_t phase, const DatapathParams& p,
               int64_t* acc) {
  // code << (phase * dac_bits + slice * cell_bits + lsb), times col_mul (an odd-grid column
  // holds (w + 2^b - 1) / 2, so its sums count twice), signed by the column's polarity.
  const int64_t scale = int64_t{1} << (phase * p.dac_bits + p.lsb_shift());
  const int64_t cpw = p.cols_per_weight();
  const int64_t* mul = cells.phys_mul.data();
  for (int64_t j = 0; j < cells.n_wcols; ++j) {
    int64_t v = 0;
    for (int64_t k = j * cpw; k < (j + 1) * cpw; ++k) v += codes[k] * mul[k];
    acc[j] += v * scale;
  }
}

void input_offset_correction(const TileCells& cells, int64_t zero_point, int64_t* acc) {
  for (int64_t j = 0; j < cells.n_wcols; ++j)
    acc[j] -= zero_point * cells.weight_sum[static_cast<size_t>(j)];
}

IMCSIM_POPCOUNT_CLONES
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
    const size_t uj = static_cast<size_t>(j);
    acc[j] -= cells.col_offset[uj] * sum;
  }
}

}  // namespace imcsim
