// The numbers of the simulated datapath (REFERENCE §9-§10), as plain functions that the
// SystemC modules call: programming a tile's cells (bit slices, signed encoding), input
// bit planes for the DAC phases, crossbar column sums, ADC conversion (clamp + rounding),
// shift-add of phases and slices, and the digital correction of offset encoding.
//
// Cells and inputs are kept as bit planes over the wordlines (one bit per row, 64 rows a
// word), so a column sum of one phase is sum_{i<dac_bits} sum_{b<cell_bits}
// 2^(i+b) * popcount(input_plane_i & cell_plane_b): the exact analog sum the ADC samples.
#pragma once

#include <cstdint>
#include <vector>

#include "mappers/schedule.hpp"

namespace imcsim {

struct DatapathParams {
  int64_t rows = 128;  // array rows (sets the ADC full scale, REFERENCE §10)
  int64_t cell_bits = 2;
  int64_t weight_bits = 8;  // signed weights, |q| <= 2^(weight_bits-1) - 1
  int64_t input_bits = 8;   // unsigned input codes 0 .. 2^input_bits - 1
  int64_t dac_bits = 1;
  int64_t adc_bits = 8;
  bool differential = false;  // else offset (bias) encoding

  int64_t slices() const { return (weight_bits + cell_bits - 1) / cell_bits; }
  int64_t polarities() const { return differential ? 2 : 1; }
  int64_t cols_per_weight() const { return slices() * polarities(); }
  int64_t phases() const { return (input_bits + dac_bits - 1) / dac_bits; }
  int64_t offset() const { return differential ? 0 : (int64_t{1} << (weight_bits - 1)); }
  // REFERENCE §10: the largest column sum of one phase, and the ADC step that covers it
  // with adc_bits (a power of two, so reconstruction is a shift; 0 = lossless).
  int64_t full_scale() const;
  int lsb_shift() const;
  int64_t lossless_adc_bits() const;
};

// One tile's programmed cells.
struct TileCells {
  int64_t n_rows = 0, words = 0;    // wordlines used, 64-bit words per plane
  int64_t n_wcols = 0;              // weight columns
  int64_t n_phys = 0;               // physical columns = n_wcols * cols_per_weight
  std::vector<uint64_t> planes;     // [(phys * cell_bits + b) * words + w]
  std::vector<uint64_t> mapped;     // [wcol * words + w]: rows that hold a weight of the column
  std::vector<int8_t> polarity;     // per physical column: +1, or -1 (differential negative)
  std::vector<int8_t> slice;        // per physical column: slice index (bits slice*cell_bits..)
  std::vector<int64_t> weight_sum;  // per weight column: sum of its quantized weights
  // Per weight column, offset encoding: the column sum S of stored values gives
  // sum w x = col_mul * S - col_offset * (sum of the inputs); (1, 2^(b-1)) for symmetric
  // weights stored as w + 2^(b-1), (2, 2^b - 1) for odd-grid weights stored as
  // (w + 2^b - 1) / 2 (2^b levels in b bits: a 2-bit layer's four levels in one 2-bit cell).
  std::vector<int64_t> col_mul, col_offset;
  // Per physical column: what shift_add multiplies its ADC code by before the phase's
  // shift, polarity * col_mul * 2^(slice * cell_bits).
  std::vector<int64_t> phys_mul;
  int64_t nonzero_cells = 0;  // cells with a nonzero stored value
  int64_t mapped_cells = 0;   // cells that hold (a slice of) a weight
};

// Programs a tile from quantized weights: int32 OIHW (OC, IC/groups, K_h, K_w) of the
// whole layer (REFERENCE §5: cell (r, col) holds W[oc, c, kh, kw] where the row's pixel
// lies under the column's duplicate, else it is empty). `odd_grid` (null, or one flag per
// output channel of the layer): the channel's weights are odd, |w| <= 2^b - 1
// (ref::QuantizedLayer::odd_grid).
TileCells program_tile(const TileSchedule& s, const TileSpec& tile, const int32_t* wq,
                       const DatapathParams& p, const uint8_t* odd_grid = nullptr);

// Bit planes of the tile's input codes: planes[bit * words + w] for bit < input_bits.
// Two tiles on one array, rows and columns disjoint (a low-rank layer's R piece and the
// I_N (x) L blocks in its idle cells): `a`'s rows and columns first, then `b`'s; no cell
// joins a row of one to a column of the other.
TileCells stack_cells(const TileCells& a, const TileCells& b, const DatapathParams& p);

void input_planes(const std::vector<int64_t>& codes, int64_t words, int64_t input_bits,
                  std::vector<uint64_t>& planes);

// Column sums of DAC phase `phase` for every physical column (the analog result).
void column_sums(const TileCells& cells, const std::vector<uint64_t>& in_planes, int64_t phase,
                 const DatapathParams& p, int64_t* sums);

// ADC: clamp(round(sum / LSB)) with LSB = 2^lsb_shift, to 0 .. 2^adc_bits - 1.
inline int64_t adc_convert(int64_t sum, int lsb_shift, int64_t adc_bits) {
  const int64_t rounded =
      lsb_shift == 0 ? sum : (sum + (int64_t{1} << (lsb_shift - 1))) >> lsb_shift;
  const int64_t top = (int64_t{1} << adc_bits) - 1;
  return rounded > top ? top : rounded;
}

// Shift-add of one phase's ADC codes into per-weight-column accumulators (times col_mul).
void shift_add(const TileCells& cells, const int64_t* codes, int64_t phase, const DatapathParams& p,
               int64_t* acc);

// Every phase of a window at once (what the engine runs): the ADC conversion and shift-add
// of a window's column sums (sums[ph * n_phys + c], WindowKernel::column_sums): the same
// accumulators as adc_convert and shift_add phase by phase (integer sums, so the order does not
// matter). The per-phase functions above stay as their reference (tests/unit/test_datapath.cpp).
void convert_shift_add_all(const TileCells& cells, const int64_t* sums, const DatapathParams& p,
                           int64_t* acc);

// A tile's cells in the layout of the window kernel: each (cell bit, word) plane of every
// physical column side by side (planes_t[(b * words + w) * n_phys + c]), and the mapped
// rows likewise (mapped_t[w * n_wcols + j]), so one input word meets a run of columns in
// vector registers. The same sums as column_sums phase by phase and offset_correction
// (test_datapath: WindowKernel.*); all-zero input words are skipped (no cell of theirs adds
// anything). The plain array pipeline and the fused low-rank job both compute with it.
class WindowKernel {
 public:
  WindowKernel(const TileCells& cells, const DatapathParams& p);
  // sums[ph * n_phys + c]: every DAC phase's column sums of the window.
  void column_sums(const std::vector<uint64_t>& in_planes, int64_t* sums) const;
  // acc[j] -= col_offset[j] * (sum of column j's inputs) (offset_correction).
  void offset_correction(const std::vector<uint64_t>& in_planes, int64_t* acc) const;

 private:
  const TileCells& cells_;
  DatapathParams p_;
  std::vector<uint64_t> planes_t_, mapped_t_;
  mutable std::vector<int64_t> inputs_;  // per weight column, the sum of its inputs
};

// Inputs with a zero point (centered codes x = code - zp, which can be negative: GELU
// outputs, a low-rank R factor's outputs) are driven as the unsigned code x + zp, so the
// DACs see unsigned codes; the digital correction subtracts zp * (sum of the column's
// weights). Padding pixels are x = 0, i.e. driven as zp.
void input_offset_correction(const TileCells& cells, int64_t zero_point, int64_t* acc);

// Offset encoding stores (w + col_offset) / col_mul (shift_add scales the column's sums by
// col_mul): subtract col_offset * (sum of the column's inputs), computed digitally and
// exactly from the input planes. Additive, so the pipeline may apply it in any order.
void offset_correction(const TileCells& cells, const std::vector<uint64_t>& in_planes,
                       const DatapathParams& p, int64_t* acc);

}  // namespace imcsim
