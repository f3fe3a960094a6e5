#include "mappers/compress/layout.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "mappers/mapper_detail.hpp"
#include "workloads/error.hpp"

namespace imcsim::compress {

Eigen::MatrixXd sdk_layout(const Eigen::MatrixXd& wm, int64_t ic, int64_t k_h, int64_t k_w,
                           int64_t win_h, int64_t win_w, int64_t s_h, int64_t s_w) {
  const int64_t oc = wm.rows();
  const int64_t pw_h = detail::window_side(win_h, k_h, s_h);
  const int64_t pw_w = detail::window_side(win_w, k_w, s_w);
  const int64_t n_dup = win_h * win_w;
  Eigen::MatrixXd out = Eigen::MatrixXd::Zero(ic * pw_h * pw_w, n_dup * oc);
  for (int64_t x = 0; x < win_h; ++x)
    for (int64_t y = 0; y < win_w; ++y) {
      const int64_t n = x * win_w + y;
      for (int64_t c = 0; c < ic; ++c)
        for (int64_t kh = 0; kh < k_h; ++kh)
          for (int64_t kw = 0; kw < k_w; ++kw) {
            const int64_t row = c * pw_h * pw_w + pw_w * (x * s_h + kh) + (y * s_w + kw);
            const int64_t src = (c * k_h + kh) * k_w + kw;
            out.block(row, n * oc, 1, oc) = wm.col(src).transpose();
          }
    }
  return out;
}

Eigen::MatrixXd kron_layout(const Eigen::MatrixXd& l, int64_t n) {
  const int64_t oc = l.rows(), r = l.cols();
  Eigen::MatrixXd out = Eigen::MatrixXd::Zero(n * r, n * oc);
  for (int64_t d = 0; d < n; ++d) out.block(d * r, d * oc, r, oc) = l.transpose();
  return out;
}

TilePlacement place_tiles(const LayerMapping& m, const ArrayGeometry& a) {
  const ConvShape& s = m.shape;
  if (s.groups != 1)
    throw MappingError("", 0, s.layer, "place_tiles expects one group (map groups separately)");
  TilePlacement p;
  p.rows = a.rows;
  p.cols = a.weight_cols();
  p.row_tiles = m.row_tiles;
  p.col_tiles = m.col_tiles;
  const int64_t area = m.pw_h * m.pw_w;
  const int64_t n_dup = m.duplicates();
  const int64_t n_rows = s.ic * area, n_cols = n_dup * s.oc;
  p.row_tile.resize(static_cast<size_t>(n_rows));
  p.row_pos.resize(static_cast<size_t>(n_rows));
  p.col_tile.resize(static_cast<size_t>(n_cols));
  p.col_pos.resize(static_cast<size_t>(n_cols));
  p.rows_used.assign(static_cast<size_t>(p.row_tiles), 0);
  p.cols_used.assign(static_cast<size_t>(p.col_tiles), 0);
  const bool channel_tiled = m.method == "vwsdk";
  for (int64_t r = 0; r < n_rows; ++r) {
    const size_t i = static_cast<size_t>(r);
    if (channel_tiled) {
      const int64_t c = r / area;
      p.row_tile[i] = c / m.ic_tile;
      p.row_pos[i] = (c % m.ic_tile) * area + r % area;
    } else {
      p.row_tile[i] = r / a.rows;
      p.row_pos[i] = r % a.rows;
    }
  }
  for (int64_t col = 0; col < n_cols; ++col) {
    const size_t i = static_cast<size_t>(col);
    if (channel_tiled) {
      const int64_t n = col / s.oc, oc = col % s.oc;
      const int64_t tile = oc / m.oc_tile;
      const int64_t in_tile = std::min(m.oc_tile, s.oc - tile * m.oc_tile);
      p.col_tile[i] = tile;
      p.col_pos[i] = n * in_tile + oc % m.oc_tile;
    } else {
      p.col_tile[i] = col / p.cols;
      p.col_pos[i] = col % p.cols;
    }
  }
  for (int64_t r = 0; r < n_rows; ++r) {
    auto& used = p.rows_used[static_cast<size_t>(p.row_tile[static_cast<size_t>(r)])];
    used = std::max(used, p.row_pos[static_cast<size_t>(r)] + 1);
  }
  for (int64_t c = 0; c < n_cols; ++c) {
    auto& used = p.cols_used[static_cast<size_t>(p.col_tile[static_cast<size_t>(c)])];
    used = std::max(used, p.col_pos[static_cast<size_t>(c)] + 1);
  }
  for (int64_t t = 0; t < p.row_tiles; ++t)
    if (p.rows_used[static_cast<size_t>(t)] > p.rows)
      throw MappingError("", 0, s.layer, fmt::format("row tile {} overflows the array", t));
  for (int64_t t = 0; t < p.col_tiles; ++t)
    if (p.cols_used[static_cast<size_t>(t)] > p.cols)
      throw MappingError("", 0, s.layer, fmt::format("column tile {} overflows the array", t));
  return p;
}

std::vector<Eigen::MatrixXd> fill_arrays(const TilePlacement& p, const Eigen::MatrixXd& layout) {
  std::vector<Eigen::MatrixXd> arrays(static_cast<size_t>(p.arrays()),
                                      Eigen::MatrixXd::Zero(p.rows, p.cols));
  for (int64_t r = 0; r < layout.rows(); ++r)
    for (int64_t c = 0; c < layout.cols(); ++c) {
      const size_t ri = static_cast<size_t>(r), ci = static_cast<size_t>(c);
      arrays[static_cast<size_t>(p.array(p.row_tile[ri], p.col_tile[ci]))](
          p.row_pos[ri], p.col_pos[ci]) = layout(r, c);
    }
  return arrays;
}

}  // namespace imcsim::compress
