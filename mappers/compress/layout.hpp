// Array layouts of REFERENCE §5 as matrices and as placements on physical arrays, so the
// low-rank and row-skipping cost models can be checked against the cells they claim.
//
// Logical layout of a weight W_m (OC x IC*K_h*K_w) for a window of win_h x win_w outputs:
//   row  r   = c * PW_h*PW_w + PW_w*(x*s_h + k_h) + (y*s_w + k_w)   (channel-major)
//   col      = n * OC + oc,  n = x * win_w + y                     (window-major)
// and the window's outputs are layout^T * pixels. Theorem 2 of the paper (REFERENCE §6):
//   sdk_layout(L R) = sdk_layout(R) * kron_layout(L, N).
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <vector>

#include "mappers/layer_mapping.hpp"

namespace imcsim::compress {

Eigen::MatrixXd sdk_layout(const Eigen::MatrixXd& wm, int64_t ic, int64_t k_h, int64_t k_w,
                           int64_t win_h, int64_t win_w, int64_t s_h, int64_t s_w);
// (I_N (x) L) as a layout: rows n*r + q, columns n*OC + oc hold L(oc, q).
Eigen::MatrixXd kron_layout(const Eigen::MatrixXd& l, int64_t n);

// Where every logical row and column of a mapping's layout sits on its arrays
// (array = row_tile * col_tiles + col_tile; positions in weight columns, REFERENCE §9).
// im2col and SDK tile the layout flat (REFERENCE §2, §3); VW-SDK tiles it by channels,
// ICt input channels per row tile and OCt output channels per column tile with the
// duplicates window-major inside the tile (REFERENCE §4, §5: col = n * OCt + oc).
struct TilePlacement {
  int64_t row_tiles = 1, col_tiles = 1;
  int64_t rows = 0, cols = 0;              // one array, weight columns
  std::vector<int64_t> row_tile, row_pos;  // per logical row
  std::vector<int64_t> col_tile, col_pos;  // per logical column
  std::vector<int64_t> rows_used;          // per row tile
  std::vector<int64_t> cols_used;          // per column tile
  int64_t array(int64_t rt, int64_t ct) const { return rt * col_tiles + ct; }
  int64_t arrays() const { return row_tiles * col_tiles; }
};

// Placement of a single-group mapping (shape.groups == 1) on arrays of geometry `a`.
TilePlacement place_tiles(const LayerMapping& m, const ArrayGeometry& a);

// Physical arrays (rows x weight columns) holding a logical layout under a placement.
std::vector<Eigen::MatrixXd> fill_arrays(const TilePlacement& p, const Eigen::MatrixXd& layout);

}  // namespace imcsim::compress
