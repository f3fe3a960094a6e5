#include <algorithm>

#include "mappers/mapper_detail.hpp"

namespace imcsim {

// REFERENCE §3. The im2col tile counts u_r, u_c are kept; a window of i x i outputs is
// feasible iff its rows fit u_r row tiles and its i^2 OC columns fit u_c column tiles.
// i grows from 2 while feasible; the smallest CC wins, ties to the larger window.
LayerMapping map_sdk(const ConvShape& s, const ArrayGeometry& a) {
  using detail::ceil_div;
  const int64_t u_r = ceil_div(s.k_h * s.k_w * s.ic, a.rows);
  const int64_t u_c = ceil_div(s.oc, a.weight_cols());
  const int64_t i_max_out = std::min(s.o_h, s.o_w);

  int64_t best_i = 1;
  int64_t best_cc = s.o_h * s.o_w * u_r * u_c;  // i = 1 is im2col
  for (int64_t i = 2; i <= i_max_out; ++i) {
    if (!detail::sdk_fits(s, a, i)) break;  // stop at the first infeasible i
    const int64_t cc = ceil_div(s.o_h, i) * ceil_div(s.o_w, i) * u_r * u_c;
    if (cc <= best_cc) {
      best_cc = cc;
      best_i = i;
    }
  }
  if (best_i == 1) {
    LayerMapping m = map_im2col(s, a);
    m.mapper = "sdk";
    return m;
  }
  return detail::sdk_window(s, a, best_i);
}

namespace detail {

bool sdk_fits(const ConvShape& s, const ArrayGeometry& a, int64_t i) {
  const int64_t u_r = ceil_div(s.k_h * s.k_w * s.ic, a.rows);
  const int64_t u_c = ceil_div(s.oc, a.weight_cols());
  const int64_t pw_h = window_side(i, s.k_h, s.s_h);
  const int64_t pw_w = window_side(i, s.k_w, s.s_w);
  return i <= std::min(s.o_h, s.o_w) && pw_h * pw_w * s.ic <= a.rows * u_r &&
         i * i * s.oc <= a.weight_cols() * u_c;
}

LayerMapping sdk_window(const ConvShape& s, const ArrayGeometry& a, int64_t i) {
  const int64_t u_r = ceil_div(s.k_h * s.k_w * s.ic, a.rows);
  const int64_t u_c = ceil_div(s.oc, a.weight_cols());
  LayerMapping m = start_mapping(s, "sdk");
  m.win_h = m.win_w = i;
  m.pw_h = window_side(i, s.k_h, s.s_h);
  m.pw_w = window_side(i, s.k_w, s.s_w);
  m.row_tiles = u_r;
  m.col_tiles = u_c;
  m.positions = ceil_div(s.o_h, i) * ceil_div(s.o_w, i);
  finish_mapping(m, a, ceil_div(s.ic, u_r), ceil_div(s.oc, u_c));
  return m;
}

}  // namespace detail

}  // namespace imcsim
