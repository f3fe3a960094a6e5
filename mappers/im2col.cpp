#include "mappers/mapper_detail.hpp"

namespace imcsim {

// REFERENCE §2: CC = O_h O_w * ceil(K_h K_w IC / AR) * ceil(OC / AC).
LayerMapping map_im2col(const ConvShape& s, const ArrayGeometry& a) {
  LayerMapping m = detail::start_mapping(s, "im2col");
  m.row_tiles = detail::ceil_div(s.k_h * s.k_w * s.ic, a.rows);
  m.col_tiles = detail::ceil_div(s.oc, a.weight_cols());
  m.positions = s.o_h * s.o_w;
  m.pw_h = s.k_h;
  m.pw_w = s.k_w;
  detail::finish_mapping(m, a, detail::ceil_div(s.ic, m.row_tiles),
                         detail::ceil_div(s.oc, m.col_tiles));
  return m;
}

}  // namespace imcsim
