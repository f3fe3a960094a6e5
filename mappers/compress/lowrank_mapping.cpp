#include "mappers/compress/lowrank_mapping.hpp"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "mappers/mapper_detail.hpp"
#include "workloads/error.hpp"
#include "workloads/yaml_reader.hpp"

namespace imcsim::compress {

const char* to_string(LPlacement p) {
  switch (p) {
    case LPlacement::Idle: return "idle";
    case LPlacement::Im2col: return "im2col";
    case LPlacement::Auto: break;
  }
  return "auto";
}

const std::vector<std::string>& l_placement_names() {
  static const std::vector<std::string> names = {"auto", "idle", "im2col"};
  return names;
}

LPlacement l_placement_from_string(const std::string& s) {
  if (s == "auto") return LPlacement::Auto;
  if (s == "idle") return LPlacement::Idle;
  if (s == "im2col") return LPlacement::Im2col;
  throw MappingError("", 0, "l_placement",
                     fmt::format("expected one of {}, got \"{}\"",
                                 join_choices(l_placement_names()), s));
}

int64_t LowRankStructure::total_rank() const {
  return std::accumulate(ranks.begin(), ranks.end(), int64_t{0});
}

LowRankStructure LowRankStructure::of(const LowRankFactors& f) {
  return {f.axis, f.group_sizes(), f.ranks()};
}

LowRankStructure LowRankStructure::uniform(int64_t channels, int64_t groups, int64_t rank,
                                           GroupAxis axis) {
  LowRankStructure s;
  s.axis = axis;
  s.sizes = split_even(channels, groups);
  s.ranks.assign(static_cast<size_t>(groups), rank);
  return s;
}

namespace {

// Group of each index when `sizes` are consecutive runs.
std::vector<int64_t> group_of(const std::vector<int64_t>& sizes) {
  std::vector<int64_t> g;
  for (size_t i = 0; i < sizes.size(); ++i) g.insert(g.end(), static_cast<size_t>(sizes[i]), static_cast<int64_t>(i));
  return g;
}

// Per array of a placement: does it hold a cell where the row's group meets the column's
// group? `row_group` / `col_group` map logical rows / columns to a group, -1 = every group
// (a dense factor).
std::vector<char> active_arrays(const TilePlacement& p, const std::vector<int64_t>& row_group,
                                const std::vector<int64_t>& col_group, int64_t groups) {
  const size_t g = static_cast<size_t>(groups) + 1;  // slot `groups` = "every group"
  std::vector<std::vector<char>> rows(static_cast<size_t>(p.row_tiles), std::vector<char>(g, 0));
  std::vector<std::vector<char>> cols(static_cast<size_t>(p.col_tiles), std::vector<char>(g, 0));
  for (size_t r = 0; r < row_group.size(); ++r)
    rows[static_cast<size_t>(p.row_tile[r])][static_cast<size_t>(row_group[r] < 0 ? groups : row_group[r])] = 1;
  for (size_t c = 0; c < col_group.size(); ++c)
    cols[static_cast<size_t>(p.col_tile[c])][static_cast<size_t>(col_group[c] < 0 ? groups : col_group[c])] = 1;
  std::vector<char> active(static_cast<size_t>(p.arrays()), 0);
  for (int64_t rt = 0; rt < p.row_tiles; ++rt)
    for (int64_t ct = 0; ct < p.col_tiles; ++ct) {
      const auto& rg = rows[static_cast<size_t>(rt)];
      const auto& cg = cols[static_cast<size_t>(ct)];
      bool any_row = false, any_col = false, meet = false;
      for (size_t k = 0; k < g; ++k) {
        any_row = any_row || rg[k];
        any_col = any_col || cg[k];
        if (k < g - 1) meet = meet || (rg[k] && cg[k]);
      }
      meet = meet || (any_row && any_col && (rg[g - 1] || cg[g - 1]));
      active[static_cast<size_t>(p.array(rt, ct))] = meet ? 1 : 0;
    }
  return active;
}

int64_t count_active(const std::vector<char>& a) {
  return std::count(a.begin(), a.end(), char{1});
}

// Costs both placements of L for one mapping of R.
LowRankMapping cost_with_r(const ConvShape& s, const LowRankStructure& lr, const ArrayGeometry& a,
                           LayerMapping r_map, LPlacement want) {
  const int64_t t = lr.total_rank();
  const int64_t groups = static_cast<int64_t>(lr.sizes.size());
  const int64_t area = r_map.pw_h * r_map.pw_w;
  const int64_t n_dup = r_map.duplicates();
  LowRankMapping out;
  out.r = r_map;
  out.r_tiles = place_tiles(r_map, a);

  // R: rows are (channel, pixel), columns (duplicate, rank index). Input-channel groups make
  // R block-diagonal; output-channel groups leave it dense (REFERENCE §7).
  const std::vector<int64_t> rank_group = group_of(lr.ranks);
  std::vector<int64_t> r_row_group(static_cast<size_t>(s.ic * area), -1);
  if (lr.axis == GroupAxis::In) {
    const std::vector<int64_t> ch_group = group_of(lr.sizes);
    for (size_t r = 0; r < r_row_group.size(); ++r)
      r_row_group[r] = ch_group[r / static_cast<size_t>(area)];
  }
  std::vector<int64_t> r_col_group(static_cast<size_t>(n_dup * t));
  for (size_t c = 0; c < r_col_group.size(); ++c) r_col_group[c] = rank_group[c % static_cast<size_t>(t)];
  out.r_active = active_arrays(out.r_tiles, r_row_group, r_col_group, groups);
  out.r_cycles = r_map.positions * count_active(out.r_active);

  // L as its own 1x1 layer over every output pixel (REFERENCE §2 tiling).
  ConvShape ls = s;
  ls.in_h = ls.ext_h = s.o_h;
  ls.in_w = ls.ext_w = s.o_w;
  ls.k_h = ls.k_w = 1;
  ls.s_h = ls.s_w = 1;
  ls.ic = t;
  out.l = map_im2col(ls, a);
  const TilePlacement lp = place_tiles(out.l, a);
  std::vector<int64_t> l_row_group(static_cast<size_t>(t), -1), l_col_group(static_cast<size_t>(s.oc), -1);
  if (lr.axis == GroupAxis::Out) {
    l_row_group = rank_group;
    l_col_group = group_of(lr.sizes);
  }
  out.l_cycles = out.l.positions * count_active(active_arrays(lp, l_row_group, l_col_group, groups));
  out.cycles_im2col = out.r_cycles + out.l_cycles;

  // Idle placement: blocks of one duplicate (t rows x OC columns) stacked diagonally in the
  // rectangle of rows and columns an active R array leaves free.
  const int64_t ar = a.rows, ac = a.weight_cols();
  int64_t next_dup = 0, arrays_with_l = 0;
  for (int64_t rt = 0; rt < out.r_tiles.row_tiles && next_dup < n_dup; ++rt)
    for (int64_t ct = 0; ct < out.r_tiles.col_tiles && next_dup < n_dup; ++ct) {
      const int64_t idx = out.r_tiles.array(rt, ct);
      if (!out.r_active[static_cast<size_t>(idx)]) continue;
      const int64_t row0 = out.r_tiles.rows_used[static_cast<size_t>(rt)];
      const int64_t col0 = out.r_tiles.cols_used[static_cast<size_t>(ct)];
      const int64_t fit = std::min({(ar - row0) / t, (ac - col0) / s.oc, n_dup - next_dup});
      if (fit <= 0) continue;
      out.l_blocks.push_back({idx, row0, col0, next_dup, fit});
      next_dup += fit;
      ++arrays_with_l;
    }
  const int64_t per_extra = std::min(ar / t, ac / s.oc);
  out.idle_feasible = next_dup == n_dup || per_extra > 0;
  if (out.idle_feasible) {
    for (int64_t e = 0; next_dup < n_dup; ++e) {
      const int64_t fit = std::min(per_extra, n_dup - next_dup);
      out.l_blocks.push_back({out.r_tiles.arrays() + e, 0, 0, next_dup, fit});
      next_dup += fit;
      ++out.l_extra_arrays;
    }
    // One extra activation per R array carrying L drains the last window's L.
    out.cycles_idle = out.r_cycles + arrays_with_l + out.l_extra_arrays * r_map.positions;
  }

  if (want == LPlacement::Idle && !out.idle_feasible) {
    throw MappingError("", 0, s.layer,
                       fmt::format("L block ({} x {}) does not fit a {}x{} array; use "
                                   "l_placement im2col or auto",
                                   t, s.oc, ar, ac));
  }
  const bool idle = want == LPlacement::Idle ||
                    (want == LPlacement::Auto && out.idle_feasible &&
                     (out.cycles_idle < out.cycles_im2col ||
                      (out.cycles_idle == out.cycles_im2col &&
                       out.l_extra_arrays <= out.l.arrays())));
  out.placement = idle ? LPlacement::Idle : LPlacement::Im2col;

  // The layer as a whole (REFERENCE §12 utilization over every array it occupies).
  LayerMapping& m = out.combined;
  m = r_map;
  m.layer = s.layer;
  m.shape = s;
  m.method = fmt::format("R-{}+L-{}", r_map.method, idle ? "idle" : "im2col");
  m.cycles = idle ? out.cycles_idle : out.cycles_im2col;
  m.extra_arrays = idle ? out.l_extra_arrays : out.l.arrays();
  int64_t r_nnz = 0, l_nnz = 0;
  for (size_t g = 0; g < lr.sizes.size(); ++g) {
    const int64_t size = lr.sizes[g], rank = lr.ranks[g];
    r_nnz += rank * (lr.axis == GroupAxis::In ? size : s.ic) * s.k_h * s.k_w;
    l_nnz += rank * (lr.axis == GroupAxis::Out ? size : s.oc);
  }
  const double cells = static_cast<double>(m.arrays() * a.rows * a.cols);
  const double r_cells = static_cast<double>(n_dup * r_nnz);
  const double l_cells = static_cast<double>(idle ? n_dup * l_nnz : l_nnz);
  m.utilization = (r_cells + l_cells) * static_cast<double>(a.cols_per_weight) / cells;
  double rows_used = 0, cols_used = 0;
  for (int64_t rt = 0; rt < out.r_tiles.row_tiles; ++rt)
    rows_used += static_cast<double>(out.r_tiles.rows_used[static_cast<size_t>(rt)] * out.r_tiles.col_tiles);
  for (int64_t ct = 0; ct < out.r_tiles.col_tiles; ++ct)
    cols_used += static_cast<double>(out.r_tiles.cols_used[static_cast<size_t>(ct)] * out.r_tiles.row_tiles);
  if (idle) {
    for (const auto& b : out.l_blocks) {
      rows_used += static_cast<double>(b.dup_count * t);
      cols_used += static_cast<double>(b.dup_count * s.oc);
    }
  } else {
    rows_used += static_cast<double>(t * out.l.col_tiles);
    cols_used += static_cast<double>(s.oc * out.l.row_tiles);
  }
  m.row_utilization = rows_used / static_cast<double>(m.arrays() * a.rows);
  m.col_utilization = cols_used * static_cast<double>(a.cols_per_weight) /
                      static_cast<double>(m.arrays() * a.cols);
  return out;
}

}  // namespace

LowRankMapping map_lowrank(const ConvShape& s, const LowRankStructure& lr, const ArrayGeometry& a,
                           const MapperInfo& base, LPlacement placement) {
  if (s.groups != 1)
    throw MappingError("", 0, s.layer, "low-rank compression of grouped convolutions is not supported");
  const int64_t split = lr.axis == GroupAxis::In ? s.ic : s.oc;
  if (lr.sizes.empty() || lr.sizes.size() != lr.ranks.size() ||
      std::accumulate(lr.sizes.begin(), lr.sizes.end(), int64_t{0}) != split)
    throw MappingError("", 0, s.layer, "low-rank group sizes do not add up to the channels");
  ConvShape rs = s;
  rs.oc = lr.total_rank();
  std::vector<LayerMapping> candidates;
  if (base.name == "auto") {
    for (auto fn : {map_im2col, map_sdk, map_vwsdk}) candidates.push_back(fn(rs, a));
  } else {
    candidates.push_back(map_layer(base, rs, a));
  }
  LowRankMapping best;
  bool have = false;
  for (auto& c : candidates) {
    c.mapper = base.name;
    LowRankMapping m = cost_with_r(s, lr, a, c, placement);
    if (!have || m.combined.cycles < best.combined.cycles ||
        (m.combined.cycles == best.combined.cycles && m.combined.arrays() < best.combined.arrays())) {
      best = std::move(m);
      have = true;
    }
  }
  best.combined.mapper = lr.sizes.size() > 1 ? "group-lowrank" : "lowrank";
  return best;
}

}  // namespace imcsim::compress
