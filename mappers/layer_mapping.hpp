// Values handed from the mappers to everything downstream (DESIGN.md data flow):
// ConvShape (the layer as a mapper sees it), ArrayGeometry (what fits on one array)
// and LayerMapping (how the layer is laid out and what it costs in computing cycles).
#pragma once

#include <cstdint>
#include <string>

#include "workloads/network.hpp"

namespace imcsim {

// REFERENCE §1 "Convention switch".
enum class Convention {
  Framework,  // padding and stride as in the network
  VwSdk,      // SDK/VW-SDK papers: unpadded input, stride ignored, O = I - K + 1
};
const char* to_string(Convention c);

// A conv (or fc, as a 1x1 conv on a 1x1 input) as seen by a mapper.
struct ConvShape {
  std::string layer;
  int64_t in_h = 1, in_w = 1;    // layer input extent (unpadded), as reported
  int64_t ext_h = 1, ext_w = 1;  // extent windows may cover: padded input (framework) or in_h/in_w
  int64_t pad_top = 0, pad_left = 0;  // padding before the input (the rest of ext is after it)
  int64_t k_h = 1, k_w = 1;
  int64_t ic = 1, oc = 1;  // channels of one group
  int64_t o_h = 1, o_w = 1;
  int64_t s_h = 1, s_w = 1;  // stride (1 in the vwsdk convention)
  int64_t groups = 1;        // the layer is `groups` independent convs of ic -> oc

  // A layer given on the command line, REFERENCE §1 convention applied.
  static ConvShape make(std::string name, int64_t in_h, int64_t in_w, int64_t k_h, int64_t k_w,
                        int64_t ic, int64_t oc, int64_t stride, int64_t pad, Convention conv);
};

// Shape of an on-array layer (conv, fc) under a convention; MappingError otherwise.
ConvShape conv_shape(const Layer& layer, Convention convention);

// REFERENCE §10: the ADC bits for which a column sum converts exactly,
// ceil(log2(rows (2^cell_bits - 1)(2^dac_bits - 1) + 1)). The one formula: the architecture
// (sim/config), the engine's datapath (models/datapath) and the study all call it.
inline int64_t lossless_adc_bits(int64_t rows, int64_t cell_bits, int64_t dac_bits) {
  const int64_t full = rows * ((int64_t{1} << cell_bits) - 1) * ((int64_t{1} << dac_bits) - 1);
  int64_t bits = 0;
  while ((int64_t{1} << bits) < full + 1) ++bits;
  return bits;
}

// What one array offers a mapper (REFERENCE §9): rows, and columns counted in weights.
struct ArrayGeometry {
  int64_t rows = 128;
  int64_t cols = 128;           // physical columns
  int64_t cols_per_weight = 1;  // bit slices x (2 for a differential pair)

  int64_t weight_cols() const { return cols / cols_per_weight; }  // AC_eff

  // Paper level: one weight per column.
  static ArrayGeometry ideal(int64_t rows, int64_t cols) { return {rows, cols, 1}; }
  // A weight of weight_bits on cells of cell_bits takes ceil(weight_bits / cell_bits) adjacent
  // columns; a differential pair doubles that.
  static ArrayGeometry sliced(int64_t rows, int64_t cols, int64_t weight_bits, int64_t cell_bits,
                              bool differential);
};

struct LayerMapping {
  std::string layer;
  std::string mapper;  // mapper asked for (im2col, sdk, vwsdk, auto)
  std::string method;  // layout actually used (im2col, sdk, vwsdk)
  ConvShape shape;
  int64_t pw_h = 1, pw_w = 1;    // parallel window, input pixels
  int64_t win_h = 1, win_w = 1;  // outputs computed per window position (j x i)
  int64_t ic_tile = 1;           // input channels per row tile (flat tilings: rounded up average)
  int64_t oc_tile = 1;           // output channels per column tile
  int64_t row_tiles = 1;         // per group
  int64_t col_tiles = 1;         // per group
  int64_t positions = 1;         // window positions per group = ceil(O_h/j) * ceil(O_w/i)
  int64_t cycles = 0;            // computing cycles (array activations), whole layer
  double utilization = 0;        // nonzero weight cells / cells of the arrays used (§12)
  double row_utilization = 0;    // wordlines carrying data / rows of the arrays used
  double col_utilization = 0;    // columns carrying weights / columns of the arrays used
  // Arrays beyond the row x column tiles (compressed layers: L of a low-rank layer on arrays
  // of its own; negative when row skipping leaves some column tiles fewer row tiles than the
  // grid, mappers/compress/); 0 for the plain mappers.
  int64_t extra_arrays = 0;

  int64_t arrays() const { return row_tiles * col_tiles * shape.groups + extra_arrays; }
  int64_t duplicates() const { return win_h * win_w; }
};

}  // namespace imcsim
