// Helpers shared by the mapper implementations (not part of the public API).
#pragma once

#include <cstdint>

#include "mappers/mapper.hpp"

namespace imcsim::detail {

inline int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// Parallel-window side covering `outputs` outputs of a kernel `k` with stride `s`.
// REFERENCE §3/§4 use K + i - 1 (stride 1); with a stride the window spans (i-1)s + K
// pixels (choice: generalises the papers' formula to strided convs of the framework convention).
inline int64_t window_side(int64_t outputs, int64_t k, int64_t s) {
  return (outputs - 1) * s + k;
}

inline LayerMapping start_mapping(const ConvShape& s, const char* method) {
  LayerMapping m;
  m.layer = s.layer;
  m.mapper = method;
  m.method = method;
  m.shape = s;
  return m;
}

// Fills cycles and utilizations from the tiling fields (per group), REFERENCE §12.
void finish_mapping(LayerMapping& m, const ArrayGeometry& a, int64_t ic_tile, int64_t oc_tile);

// REFERENCE §3: is the i x i window (i >= 2) within the im2col tile counts?
bool sdk_fits(const ConvShape& s, const ArrayGeometry& a, int64_t i);
// The SDK layout of an i x i window (i >= 2, sdk_fits): flat tiling on the im2col tile counts.
LayerMapping sdk_window(const ConvShape& s, const ArrayGeometry& a, int64_t i);
// REFERENCE §4: is the window of i (width) x j (height) outputs feasible (ICt, OCt >= 1)?
bool vwsdk_fits(const ConvShape& s, const ArrayGeometry& a, int64_t i, int64_t j);
// The VW-SDK layout of that window: ICt input and OCt output channels per array.
LayerMapping vwsdk_window(const ConvShape& s, const ArrayGeometry& a, int64_t i, int64_t j);

}  // namespace imcsim::detail
