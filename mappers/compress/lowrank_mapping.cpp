#include "mappers/compress/lowrank_mapping.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <optional>

#include "mappers/mapper_detail.hpp"
#include "workloads/error.hpp"
#include "workloads/yaml_reader.hpp"

namespace imcsim::compress {

const char* to_string(LPlacement p) {
  switch (p) {
    case LPlacement::Idle: return "idle";
    case LPlacement::Kron: return "kron";
    case LPlacement::Im2col: return "im2col";
    case LPlacement::Auto: break;
  }
  return "auto";
}

const std::vector<std::string>& l_placement_names() {
  static const std::vector<std::string> names = {"auto", "idle", "kron", "im2col"};
  return names;
}

LPlacement l_placement_from_string(const std::string& s) {
  for (LPlacement p : {LPlacement::Auto, LPlacement::Idle, LPlacement::Kron, LPlacement::Im2col})
    if (s == to_string(p)) return p;
  throw MappingError(
      "", 0, "l_placement",
      fmt::format("expected one of {}, got \"{}\"", join_choices(l_placement_names()), s));
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

using detail::ceil_div;

std::vector<int64_t> starts_of(const std::vector<int64_t>& sizes) {
  std::vector<int64_t> s(sizes.size(), 0);
  for (size_t k = 1; k < sizes.size(); ++k) s[k] = s[k - 1] + sizes[k - 1];
  return s;
}

// The window `w` (found for one shape) applied to another shape of the same layer.
std::optional<LayerMapping> same_window(const LayerMapping& w, const ConvShape& s,
                                        const ArrayGeometry& a) {
  if (w.method == "sdk") {
    if (!detail::sdk_fits(s, a, w.win_w)) return std::nullopt;
    return detail::sdk_window(s, a, w.win_w);
  }
  if (w.method == "vwsdk") {
    if (!detail::vwsdk_fits(s, a, w.win_w, w.win_h)) return std::nullopt;
    return detail::vwsdk_window(s, a, w.win_w, w.win_h);
  }
  return map_im2col(s, a);
}

// The tiles of one group's R mapping as pieces (wordlines x weight columns each), in tile
// order, handed to `f`.
template <typename F>
void for_each_piece(const LayerMapping& m, const ArrayGeometry& a, int64_t group, F&& f) {
  const ConvShape& s = m.shape;
  const int64_t area = m.pw_h * m.pw_w, n = m.duplicates();
  for (int64_t rt = 0; rt < m.row_tiles; ++rt)
    for (int64_t ct = 0; ct < m.col_tiles; ++ct) {
      RPiece p{group, rt, ct, 0, 0};
      if (m.method == "vwsdk") {
        p.rows = std::min(m.ic_tile, s.ic - rt * m.ic_tile) * area;
        p.cols = n * std::min(m.oc_tile, s.oc - ct * m.oc_tile);
      } else {
        p.rows = std::min(a.rows, s.ic * area - rt * a.rows);
        p.cols = std::min(a.weight_cols(), n * s.oc - ct * a.weight_cols());
      }
      f(p);
    }
}

struct Space {
  int64_t rows = 0, cols = 0;  // used, from the top-left corner, blocks stacked diagonally
};

// The I_N (x) L blocks of a window of `n_dup` duplicates, one per duplicate, or one per
// duplicate and group when L is block-diagonal (output-channel groups), placed by first fit
// into `arrays` (each with its used corner; a new array opens when none has room). Returns
// false when a block cannot fit an empty array. `touched[k]` marks the arrays that took a
// block; `placed` (when given) receives the blocks.
// Arrays only fill up, so an array that refused a block refuses every later block of that
// size: a run of equal blocks (every block of an ungrouped L, or of equal output groups) fills
// one array after the other, placed a whole array at a time; unequal blocks keep, per block
// size, the first array still worth trying. Both give what scanning from the first array for
// every block gives.
bool place_l_blocks(std::vector<Space>& arrays, std::vector<char>& touched,
                    const LowRankStructure& lr, int64_t oc, int64_t n_dup, const ArrayGeometry& a,
                    std::vector<LBlock>* placed) {
  const bool grouped = lr.axis == GroupAxis::Out && lr.sizes.size() > 1;
  const int64_t kinds = grouped ? static_cast<int64_t>(lr.sizes.size()) : 1;
  const auto dims = [&](int64_t k) {
    return grouped
               ? std::make_pair(lr.ranks[static_cast<size_t>(k)], lr.sizes[static_cast<size_t>(k)])
               : std::make_pair(lr.total_rank(), oc);
  };
  bool equal = true;
  for (int64_t k = 0; k < kinds; ++k) {
    const auto [rows, cols] = dims(k);
    if (rows > a.rows || cols > a.weight_cols()) return false;
    equal = equal && rows > 0 && cols > 0 && dims(k) == dims(0);
  }
  touched.resize(arrays.size(), 0);
  const auto put = [&](size_t k, int64_t b, int64_t rows, int64_t cols) {
    if (k == arrays.size()) {
      arrays.push_back({0, 0});
      touched.push_back(0);
    }
    if (placed)
      placed->push_back({static_cast<int64_t>(k), arrays[k].rows, arrays[k].cols, b / kinds,
                         b % kinds, rows, cols});
    arrays[k].rows += rows;
    arrays[k].cols += cols;
    touched[k] = 1;
  };
  const int64_t count = n_dup * kinds;
  if (equal) {
    const auto [rows, cols] = dims(0);
    int64_t b = 0;
    for (size_t k = 0; b < count; ++k) {
      const int64_t room = k == arrays.size() ? std::min(a.rows / rows, a.weight_cols() / cols)
                                              : std::min((a.rows - arrays[k].rows) / rows,
                                                         (a.weight_cols() - arrays[k].cols) / cols);
      for (int64_t j = 0; j < std::min(room, count - b); ++j) put(k, b + j, rows, cols);
      b += std::max<int64_t>(0, std::min(room, count - b));
    }
    return true;
  }
  std::map<std::pair<int64_t, int64_t>, size_t> hint;
  for (int64_t b = 0; b < count; ++b) {
    const auto [rows, cols] = dims(b % kinds);
    size_t& k = hint[{rows, cols}];
    while (k < arrays.size() &&
           (arrays[k].rows + rows > a.rows || arrays[k].cols + cols > a.weight_cols()))
      ++k;
    put(k, b, rows, cols);
  }
  return true;
}

// Tiles of L's flat im2col layout (total rank x OC) that hold a weight.
int64_t l_im2col_active(const LowRankStructure& lr, int64_t oc, const ArrayGeometry& a) {
  const int64_t t = lr.total_rank();
  const int64_t ur = ceil_div(t, a.rows), uc = ceil_div(oc, a.weight_cols());
  if (lr.axis != GroupAxis::Out || lr.sizes.size() <= 1) return ur * uc;
  const std::vector<int64_t> rs = starts_of(lr.ranks), cs = starts_of(lr.sizes);
  int64_t n = 0;
  for (int64_t rt = 0; rt < ur; ++rt)
    for (int64_t ct = 0; ct < uc; ++ct) {
      bool any = false;
      for (size_t k = 0; k < lr.sizes.size() && !any; ++k) {
        const bool rows = rs[k] < (rt + 1) * a.rows && rs[k] + lr.ranks[k] > rt * a.rows;
        const bool cols =
            cs[k] < (ct + 1) * a.weight_cols() && cs[k] + lr.sizes[k] > ct * a.weight_cols();
        any = rows && cols && lr.ranks[k] > 0;
      }
      n += any ? 1 : 0;
    }
  return n;
}

// One window of R costed with every L placement.
struct Costed {
  LowRankMapping m;
  int64_t arrays = 0, cycles = 0;
};

// The cheapest L placement of a costed window: fewer cycles, then fewer arrays, then the
// simpler (im2col, kron, idle); a placement that does not fit has cycles < 0.
LPlacement cheapest_placement(const LowRankMapping& out, int64_t l_tiles) {
  LPlacement p = LPlacement::Im2col;
  int64_t best_cc = out.cycles_im2col, best_arrays = l_tiles;
  const std::pair<LPlacement, std::pair<int64_t, int64_t>> others[] = {
      {LPlacement::Kron, {out.cycles_kron, out.l_kron_arrays}},
      {LPlacement::Idle, {out.cycles_idle, out.l_extra_arrays}}};
  for (const auto& [place, cost] : others) {
    if (cost.first < 0) continue;
    if (cost.first < best_cc || (cost.first == best_cc && cost.second < best_arrays)) {
      p = place;
      best_cc = cost.first;
      best_arrays = cost.second;
    }
  }
  return p;
}

// `full`: also keep the placement itself (pieces, blocks, mappings) for schedules and reports;
// otherwise only its costs (the search's inner loop).
std::optional<Costed> cost_window(const ConvShape& s, const LowRankStructure& lr,
                                  const ArrayGeometry& a, const LayerMapping& window,
                                  LPlacement want, const LayerMapping& l_im2col, int64_t l_tiles,
                                  int64_t chip_arrays, bool full) {
  const bool in_groups = lr.axis == GroupAxis::In && lr.sizes.size() > 1;
  const int64_t t = lr.total_rank();
  LowRankMapping out;
  out.axis = lr.axis;
  out.sizes = lr.sizes;
  out.ranks = lr.ranks;
  // R: each input-channel group on its own under the window, one-array groups packed.
  std::vector<Space> r_space;
  std::vector<char> open;
  for (size_t k = 0; k < (in_groups ? lr.sizes.size() : 1); ++k) {
    ConvShape gs = s;
    gs.ic = in_groups ? lr.sizes[k] : s.ic;
    gs.oc = in_groups ? lr.ranks[k] : t;
    if (gs.oc == 0) continue;
    const std::optional<LayerMapping> gm = same_window(window, gs, a);
    if (!gm) return std::nullopt;
    if (full) out.r_groups.push_back(*gm);
    // A group on one array shares arrays with other such groups (first fit); the tiles of
    // a group spanning several arrays keep arrays of their own.
    const bool alone = gm->row_tiles * gm->col_tiles == 1 && in_groups;
    for_each_piece(*gm, a, static_cast<int64_t>(k), [&](const RPiece& p) {
      size_t idx = r_space.size();
      for (size_t j = 0; alone && j < r_space.size() && idx == r_space.size(); ++j)
        if (open[j] && r_space[j].rows + p.rows <= a.rows &&
            r_space[j].cols + p.cols <= a.weight_cols())
          idx = j;
      if (idx == r_space.size()) {
        r_space.push_back({0, 0});
        open.push_back(alone ? 1 : 0);
        if (full) out.r_arrays.emplace_back();
      }
      r_space[idx].rows += p.rows;
      r_space[idx].cols += p.cols;
      if (full) out.r_arrays[idx].push_back(p);
    });
  }
  if (full) {
    out.r = window;
    out.r.shape = s;
    out.r.shape.oc = t;
    out.l = l_im2col;
  }
  const int64_t positions = window.positions, n_dup = window.duplicates();
  const int64_t n_r = static_cast<int64_t>(r_space.size());
  out.r_cycles = positions * n_r;

  // L, three ways.
  out.l_im2col_tiles = l_tiles;
  out.cycles_im2col = out.r_cycles + l_im2col.positions * l_tiles;
  std::vector<Space> kron;
  std::vector<char> touched;
  const bool kron_ok =
      (want == LPlacement::Kron || want == LPlacement::Auto) &&
      place_l_blocks(kron, touched, lr, s.oc, n_dup, a, full ? &out.l_kron : nullptr);
  if (!kron_ok) out.l_kron.clear();
  out.l_kron_arrays = kron_ok ? static_cast<int64_t>(kron.size()) : 0;
  if (kron_ok) out.cycles_kron = out.r_cycles + positions * out.l_kron_arrays;
  // Idle cells: R's arrays first (their used corners), then extra arrays.
  std::vector<Space> idle = r_space;
  std::vector<char> carries;
  bool idle_ok = (want == LPlacement::Idle || want == LPlacement::Auto) &&
                 place_l_blocks(idle, carries, lr, s.oc, n_dup, a, full ? &out.l_idle : nullptr);
  if (idle_ok && chip_arrays > 0 && static_cast<int64_t>(idle.size()) > chip_arrays)
    idle_ok = false;  // not resident
  if (!idle_ok) out.l_idle.clear();
  if (idle_ok) {
    out.l_extra_arrays = static_cast<int64_t>(idle.size()) - n_r;
    const int64_t drain = std::count(carries.begin(), carries.begin() + n_r, char{1});
    out.cycles_idle = out.r_cycles + drain + out.l_extra_arrays * positions;
  }

  // The placement: forced, or the cheapest.
  const LPlacement p = want == LPlacement::Auto ? cheapest_placement(out, l_tiles) : want;
  if ((p == LPlacement::Kron && out.cycles_kron < 0) ||
      (p == LPlacement::Idle && out.cycles_idle < 0))
    return std::nullopt;
  out.placement = p;
  const int64_t l_arrays = p == LPlacement::Kron   ? out.l_kron_arrays
                           : p == LPlacement::Idle ? out.l_extra_arrays
                                                   : l_tiles;
  Costed c;
  c.arrays = n_r + l_arrays;
  c.cycles = p == LPlacement::Kron   ? out.cycles_kron
             : p == LPlacement::Idle ? out.cycles_idle
                                     : out.cycles_im2col;
  c.m = std::move(out);
  return c;
}

// The whole layer as one LayerMapping for reports (REFERENCE §12 utilization over every
// array it occupies).
void fill_combined(LowRankMapping& out, const ConvShape& s, const LowRankStructure& lr,
                   const ArrayGeometry& a, int64_t arrays) {
  const int64_t t = lr.total_rank(), n_dup = out.r.duplicates();
  LayerMapping& m = out.combined;
  m = out.r;
  m.layer = s.layer;
  m.shape = s;
  m.method = fmt::format("R-{}+L-{}", out.r.method, to_string(out.placement));
  m.cycles = out.placement == LPlacement::Kron   ? out.cycles_kron
             : out.placement == LPlacement::Idle ? out.cycles_idle
                                                 : out.cycles_im2col;
  m.row_tiles = static_cast<int64_t>(out.r_arrays.size());
  m.col_tiles = 1;
  m.extra_arrays = arrays - m.row_tiles;
  int64_t r_nnz = 0, l_nnz = 0;
  for (size_t g = 0; g < lr.sizes.size(); ++g) {
    r_nnz += lr.ranks[g] * (lr.axis == GroupAxis::In ? lr.sizes[g] : s.ic) * s.k_h * s.k_w;
    l_nnz += lr.ranks[g] * (lr.axis == GroupAxis::Out ? lr.sizes[g] : s.oc);
  }
  const bool l_dup = out.placement != LPlacement::Im2col;
  const double cells = static_cast<double>(m.arrays() * a.rows * a.cols);
  m.utilization = static_cast<double>(n_dup * r_nnz + (l_dup ? n_dup * l_nnz : l_nnz)) *
                  static_cast<double>(a.cols_per_weight) / cells;
  double rows_used = 0, cols_used = 0;
  for (const auto& arr : out.r_arrays)
    for (const RPiece& p : arr) {
      rows_used += static_cast<double>(p.rows);
      cols_used += static_cast<double>(p.cols);
    }
  const std::vector<LBlock>& blocks = out.placement == LPlacement::Kron ? out.l_kron : out.l_idle;
  if (l_dup) {
    for (const auto& b : blocks) {
      rows_used += static_cast<double>(b.rows);
      cols_used += static_cast<double>(b.cols);
    }
  } else {
    rows_used += static_cast<double>(t * out.l.col_tiles);
    cols_used += static_cast<double>(s.oc * out.l.row_tiles);
  }
  m.row_utilization = rows_used / static_cast<double>(m.arrays() * a.rows);
  m.col_utilization =
      cols_used * static_cast<double>(a.cols_per_weight) / static_cast<double>(m.arrays() * a.cols);
}

}  // namespace

LowRankMapping map_lowrank(const ConvShape& s, const LowRankStructure& lr, const ArrayGeometry& a,
                           WindowSearch search, LPlacement placement, int64_t chip_arrays) {
  if (s.groups != 1)
    throw MappingError("", 0, s.layer,
                       "low-rank compression of grouped convolutions is not supported");
  const int64_t split = lr.axis == GroupAxis::In ? s.ic : s.oc;
  if (lr.sizes.empty() || lr.sizes.size() != lr.ranks.size() ||
      std::accumulate(lr.sizes.begin(), lr.sizes.end(), int64_t{0}) != split)
    throw MappingError("", 0, s.layer, "low-rank group sizes do not add up to the channels");
  const int64_t t = lr.total_rank();
  if (t < 1) throw MappingError("", 0, s.layer, "low-rank layer of total rank 0");
  // Windows are searched on the largest group's R (input-channel groups) or the whole R.
  ConvShape ws = s;
  ws.oc = t;
  if (lr.axis == GroupAxis::In && lr.sizes.size() > 1) {
    const size_t k =
        static_cast<size_t>(std::max_element(lr.sizes.begin(), lr.sizes.end()) - lr.sizes.begin());
    ws.ic = lr.sizes[k];
    ws.oc = lr.ranks[k];
  }
  // L as its own 1x1 layer over every output pixel (REFERENCE §2 tiling).
  ConvShape ls = s;
  ls.in_h = ls.ext_h = s.o_h;
  ls.in_w = ls.ext_w = s.o_w;
  ls.pad_top = ls.pad_left = 0;
  ls.k_h = ls.k_w = 1;
  ls.s_h = ls.s_w = 1;
  ls.ic = t;
  const LayerMapping l_im2col = map_im2col(ls, a);
  const int64_t l_tiles = l_im2col_active(lr, s.oc, a);

  // Costs of every window first; the winner is then placed in full.
  const std::vector<LayerMapping> windows = window_candidates(ws, a, search);
  const bool in_groups = lr.axis == GroupAxis::In && lr.sizes.size() > 1;
  const int64_t l_im2col_cycles = l_im2col.positions * l_tiles;
  // A lower bound per window first: R alone (grouped R: its arrays hold at least all of R's
  // wordlines and weight columns) plus the least L can add under the asked placement. Windows
  // are costed from the lowest bound up, so the ones that cannot win are never placed; ties
  // (cycles, then arrays) go to the earlier candidate, as in candidate order.
  const int64_t l_min = placement == LPlacement::Im2col ? l_im2col_cycles : 0;
  std::vector<std::pair<int64_t, size_t>> order;
  order.reserve(windows.size());
  for (size_t i = 0; i < windows.size(); ++i) {
    const LayerMapping& w = windows[i];
    const int64_t r_min =
        in_groups ? w.positions * std::max(ceil_div(s.ic * w.pw_h * w.pw_w, a.rows),
                                           ceil_div(w.duplicates() * t, a.weight_cols()))
                  : w.cycles;
    order.emplace_back(r_min + (placement == LPlacement::Kron ? w.positions : l_min), i);
  }
  std::sort(order.begin(), order.end());
  int64_t best_cycles = -1, best_arrays = 0;
  size_t best_window = 0;
  for (const auto& [bound, i] : order) {
    if (best_cycles >= 0 && bound > best_cycles) break;
    const std::optional<Costed> c =
        cost_window(s, lr, a, windows[i], placement, l_im2col, l_tiles, chip_arrays, false);
    if (!c) continue;
    if (best_cycles < 0 || c->cycles < best_cycles ||
        (c->cycles == best_cycles && c->arrays < best_arrays) ||
        (c->cycles == best_cycles && c->arrays == best_arrays && i < best_window)) {
      best_cycles = c->cycles;
      best_arrays = c->arrays;
      best_window = i;
    }
  }
  std::optional<Costed> best;
  if (best_cycles >= 0) {
    best = cost_window(s, lr, a, windows[best_window], placement, l_im2col, l_tiles, chip_arrays,
                       true);
    fill_combined(best->m, s, lr, a, best->arrays);
  }
  if (!best)
    throw MappingError(
        "", 0, s.layer,
        fmt::format(
            "no {} window admits the {} placement of L ({} x {} blocks on a "
            "{}x{} array{}); use l_placement im2col or auto",
            to_string(search), to_string(placement), t, s.oc, a.rows, a.weight_cols(),
            chip_arrays > 0 ? fmt::format(", every tile resident on {} arrays", chip_arrays) : ""));
  best->m.combined.mapper = lr.sizes.size() > 1 ? "group-lowrank" : "lowrank";
  best->m.r.mapper = to_string(search);
  return std::move(best->m);
}

namespace {

ColSlot col_slot(int64_t n, int64_t win_w, int64_t oc, int64_t blk) {
  return {static_cast<int32_t>(n / win_w), static_cast<int32_t>(n % win_w),
          static_cast<int32_t>(oc), static_cast<int32_t>(blk)};
}

// Wordlines and weight columns of one R piece in the dense R layer's coordinates.
void add_piece(TileSpec& tile, const RPiece& p, const LayerMapping& gm, const ArrayGeometry& a,
               int64_t c0, int64_t r0, int64_t blk) {
  const int64_t area = gm.pw_h * gm.pw_w, n_dup = gm.duplicates(), rk = gm.shape.oc;
  auto row = [&](int64_t g) {
    return RowSlot{static_cast<int32_t>(c0 + g / area), static_cast<int32_t>((g % area) / gm.pw_w),
                   static_cast<int32_t>(g % gm.pw_w), static_cast<int32_t>(blk)};
  };
  if (gm.method == "vwsdk") {
    const int64_t ch0 = p.row_tile * gm.ic_tile, ch1 = std::min(gm.shape.ic, ch0 + gm.ic_tile);
    for (int64_t g = ch0 * area; g < ch1 * area; ++g) tile.rows.push_back(row(g));
    const int64_t o0 = p.col_tile * gm.oc_tile, o1 = std::min(rk, o0 + gm.oc_tile);
    for (int64_t n = 0; n < n_dup; ++n)
      for (int64_t oc = o0; oc < o1; ++oc) tile.cols.push_back(col_slot(n, gm.win_w, r0 + oc, blk));
    return;
  }
  const int64_t g0 = p.row_tile * a.rows;
  for (int64_t g = g0; g < g0 + p.rows; ++g) tile.rows.push_back(row(g));
  const int64_t w0 = p.col_tile * a.weight_cols();
  for (int64_t col = w0; col < w0 + p.cols; ++col)
    tile.cols.push_back(col_slot(col / rk, gm.win_w, r0 + col % rk, blk));
}

}  // namespace

LowRankSchedules lowrank_schedules(const LowRankMapping& m, const ConvShape& r_shape,
                                   const ConvShape& l_shape, const ArrayGeometry& a,
                                   int64_t num_arrays) {
  const bool in_groups = m.axis == GroupAxis::In && m.sizes.size() > 1;
  const bool out_groups = m.axis == GroupAxis::Out && m.sizes.size() > 1;
  const std::vector<int64_t> ch0 = starts_of(m.sizes), rk0 = starts_of(m.ranks);
  LowRankSchedules out;
  // R: one tile per array of the packing.
  LayerMapping rm = m.r;
  rm.layer = r_shape.layer;
  rm.shape = r_shape;
  rm.cycles = m.r_cycles;  // every array of the packing, each over R's window positions
  std::vector<TileSpec> tiles;
  for (size_t i = 0; i < m.r_arrays.size(); ++i) {
    TileSpec tile;
    tile.row_tile = static_cast<int64_t>(i);
    for (const RPiece& p : m.r_arrays[i]) {
      const size_t k = static_cast<size_t>(p.group);
      const LayerMapping& gm = m.r_groups[in_groups ? k : 0];
      add_piece(tile, p, gm, a, in_groups ? ch0[k] : 0, in_groups ? rk0[k] : 0,
                in_groups ? p.group : -1);
    }
    tiles.push_back(std::move(tile));
  }
  out.r = make_placed_schedule(rm, a, num_arrays, std::move(tiles));

  // L: I_N (x) L blocks with R's window, or its im2col tiles.
  tiles.clear();
  LayerMapping lm;
  if (m.placement == LPlacement::Kron || m.placement == LPlacement::Idle) {
    // I_N (x) L blocks with R's window: on arrays of their own (kron), or in R's idle
    // cells and extra arrays (idle: tile.row_tile keeps the physical array, R's array i
    // being R's tile i).
    lm = m.r;
    lm.method = m.placement == LPlacement::Kron ? "kron" : "idle";
    lm.pw_h = m.r.win_h;
    lm.pw_w = m.r.win_w;
    for (const LBlock& b : m.placement == LPlacement::Kron ? m.l_kron : m.l_idle) {
      if (static_cast<size_t>(b.array) >= tiles.size())
        tiles.resize(static_cast<size_t>(b.array) + 1);
      TileSpec& tile = tiles[static_cast<size_t>(b.array)];
      tile.row_tile = b.array;
      const int64_t blk = out_groups ? b.group : -1;
      const int64_t q0 = out_groups ? rk0[static_cast<size_t>(b.group)] : 0;
      const int64_t o0 = out_groups ? ch0[static_cast<size_t>(b.group)] : 0;
      const ColSlot at = col_slot(b.dup, m.r.win_w, 0, blk);
      for (int64_t q = q0; q < q0 + b.rows; ++q)
        tile.rows.push_back({static_cast<int32_t>(q), at.dy, at.dx, static_cast<int32_t>(blk)});
      for (int64_t oc = o0; oc < o0 + b.cols; ++oc)
        tile.cols.push_back(col_slot(b.dup, m.r.win_w, oc, blk));
    }
  } else {
    lm = m.l;
    auto group_of = [](const std::vector<int64_t>& starts, int64_t x) {
      return static_cast<int32_t>(std::upper_bound(starts.begin(), starts.end(), x) -
                                  starts.begin() - 1);
    };
    const int64_t t = l_shape.ic, ac = a.weight_cols();
    for (int64_t rt = 0; rt * a.rows < t; ++rt)
      for (int64_t ct = 0; ct * ac < l_shape.oc; ++ct) {
        TileSpec tile;
        tile.row_tile = rt;
        tile.col_tile = ct;
        for (int64_t q = rt * a.rows; q < std::min(t, (rt + 1) * a.rows); ++q)
          tile.rows.push_back({static_cast<int32_t>(q), 0, 0, out_groups ? group_of(rk0, q) : -1});
        for (int64_t oc = ct * ac; oc < std::min(l_shape.oc, (ct + 1) * ac); ++oc)
          tile.cols.push_back(
              {0, 0, static_cast<int32_t>(oc), out_groups ? group_of(ch0, oc) : -1});
        tiles.push_back(std::move(tile));
      }
  }
  lm.layer = l_shape.layer;
  lm.shape = l_shape;
  // L's share of the plan (idle: what L adds to R's job, its drain and extra arrays).
  lm.cycles = m.combined.cycles - m.r_cycles;
  out.fused = m.placement == LPlacement::Idle;
  if (out.fused)
    tiles.erase(std::remove_if(tiles.begin(), tiles.end(),
                               [](const TileSpec& t) { return t.rows.empty(); }),
                tiles.end());
  out.l = make_placed_schedule(lm, a, num_arrays, std::move(tiles));
  if (out.fused)
    for (auto& t : out.l.tiles) t.array = static_cast<int>(t.row_tile);
  return out;
}

}  // namespace imcsim::compress
