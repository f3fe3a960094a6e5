#include <algorithm>

#include "mappers/mapper_detail.hpp"

namespace imcsim {

// REFERENCE §4. A window PW_h x PW_w = (K_h + j - 1) x (K_w + i - 1) computes i (along the
// width) x j (along the height) outputs; ICt = floor(AR / (PW_h PW_w)) input channels and
// OCt = floor(AC / (i j)) output channels share one array:
//   CC = ceil(O_w / i) ceil(O_h / j) ceil(IC / ICt) ceil(OC / OCt).
// The search visits only windows that satisfy the feasibility bounds ICt >= 1 and OCt >= 1:
// for a fixed i, PW_h PW_w and i j grow with j, so the first j that breaks either bound
// ends that row of the search, and the first i whose j = 1 window breaks them ends it all.
// It is exhaustive over the feasible set, so it returns the true minimum (unlike the
// public script's loop).
// Ties (choice): fewer arrays (ceil(IC/ICt) * ceil(OC/OCt)), then the larger PW area, then
// the wider window. REFERENCE §4 breaks ties by area alone; that can pick a window that
// needs 8 arrays where a 1-array window gives the same cycles (224x224, 3->64 on 512x512:
// 4x34 vs 3x10), so array count comes first: same latency, fewer arrays and ADC reads.
LayerMapping map_vwsdk(const ConvShape& s, const ArrayGeometry& a) {
  using detail::ceil_div;
  const int64_t ac = a.weight_cols();
  int64_t best_cc = -1, best_i = 0, best_j = 0, best_area = 0, best_pw_w = 0, best_arrays = 0;
  for (int64_t i = 1; i <= s.o_w && i <= ac; ++i) {
    const int64_t pw_w = detail::window_side(i, s.k_w, s.s_w);
    if (s.k_h * pw_w > a.rows) break;
    const int64_t steps_w = ceil_div(s.o_w, i);
    for (int64_t j = 1; j <= s.o_h; ++j) {
      const int64_t pw_h = detail::window_side(j, s.k_h, s.s_h);
      const int64_t area = pw_h * pw_w;
      if (area > a.rows || i * j > ac) break;
      const int64_t ict = a.rows / area;
      const int64_t oct = ac / (i * j);
      const int64_t arrays = ceil_div(s.ic, ict) * ceil_div(s.oc, oct);
      const int64_t cc = steps_w * ceil_div(s.o_h, j) * arrays;
      const bool better =
          best_cc < 0 || cc < best_cc ||
          (cc == best_cc && (arrays < best_arrays ||
                             (arrays == best_arrays &&
                              (area > best_area || (area == best_area && pw_w > best_pw_w)))));
      if (better) {
        best_cc = cc;
        best_i = i;
        best_j = j;
        best_area = area;
        best_pw_w = pw_w;
        best_arrays = arrays;
      }
    }
  }
  LayerMapping flat = map_im2col(s, a);
  flat.mapper = "vwsdk";
  if (best_cc < 0 || flat.cycles < best_cc) return flat;

  return detail::vwsdk_window(s, a, best_i, best_j);
}

namespace detail {

bool vwsdk_fits(const ConvShape& s, const ArrayGeometry& a, int64_t i, int64_t j) {
  if (i > s.o_w || j > s.o_h) return false;
  const int64_t area = window_side(j, s.k_h, s.s_h) * window_side(i, s.k_w, s.s_w);
  return area <= a.rows && i * j <= a.weight_cols();
}

LayerMapping vwsdk_window(const ConvShape& s, const ArrayGeometry& a, int64_t i, int64_t j) {
  LayerMapping m = start_mapping(s, "vwsdk");
  m.win_w = i;
  m.win_h = j;
  m.pw_w = window_side(i, s.k_w, s.s_w);
  m.pw_h = window_side(j, s.k_h, s.s_h);
  const int64_t ict = a.rows / (m.pw_h * m.pw_w);
  const int64_t oct = a.weight_cols() / (i * j);
  m.row_tiles = ceil_div(s.ic, ict);
  m.col_tiles = ceil_div(s.oc, oct);
  m.positions = ceil_div(s.o_w, i) * ceil_div(s.o_h, j);
  finish_mapping(m, a, std::min(ict, s.ic), std::min(oct, s.oc));
  return m;
}

}  // namespace detail

}  // namespace imcsim
