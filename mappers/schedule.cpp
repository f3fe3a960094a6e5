#include "mappers/schedule.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "mappers/mapper_detail.hpp"
#include "workloads/error.hpp"

namespace imcsim {

int64_t TileSchedule::valid_columns(const TileSpec& t, int64_t py, int64_t px) const {
  const ConvShape& s = mapping.shape;
  int64_t n = 0;
  for (const auto& c : t.cols) {
    n += (py * mapping.win_h + c.dy < s.o_h && px * mapping.win_w + c.dx < s.o_w) ? 1 : 0;
  }
  return n;
}

namespace {

// Rows of the whole (group of the) layer in the order of REFERENCE §5: channel-major,
// then window position.
RowSlot row_of(int64_t g, int64_t pw_h, int64_t pw_w) {
  const int64_t area = pw_h * pw_w;
  return {static_cast<int32_t>(g / area), static_cast<int32_t>((g % area) / pw_w),
          static_cast<int32_t>(g % pw_w)};
}

// Checks a tile fits the array, counts its mapped weights and reused rows, assigns it to an
// array of a programming round (tiles in order, num_arrays per round) and appends it.
void add_tile(TileSchedule& t, TileSpec tile, const ArrayGeometry& a, int64_t num_arrays) {
  const LayerMapping& m = t.mapping;
  if (static_cast<int64_t>(tile.rows.size()) > a.rows ||
      static_cast<int64_t>(tile.cols.size()) > a.weight_cols() || tile.rows.empty() ||
      tile.cols.empty()) {
    throw MappingError("", 0, m.layer,
                       fmt::format("tile ({}, {}) of {} rows x {} weight columns does not "
                                   "fit a {}x{} array",
                                   tile.row_tile, tile.col_tile, tile.rows.size(), tile.cols.size(),
                                   a.rows, a.weight_cols()));
  }
  const int64_t shift = m.win_w * m.shape.s_w;  // pixels a window steps to the right
  for (const auto& r : tile.rows) {
    if (r.pw >= m.pw_w - shift) ++tile.rows_new_on_shift;
    for (const auto& c : tile.cols) tile.mapped_weights += t.holds_weight(r, c) ? 1 : 0;
  }
  const int64_t index = static_cast<int64_t>(t.tiles.size());
  tile.round = static_cast<int>(index / num_arrays);
  tile.array = static_cast<int>(index % num_arrays);
  t.tiles.push_back(std::move(tile));
}

// A schedule's geometry from its mapping, without tiles.
TileSchedule schedule_frame(const LayerMapping& m, const ArrayGeometry& a) {
  const ConvShape& s = m.shape;
  TileSchedule t;
  t.layer = m.layer;
  t.mapping = m;
  t.array = a;
  t.pad_h = s.pad_top;
  t.pad_w = s.pad_left;
  t.pos_h = detail::ceil_div(s.o_h, m.win_h);
  t.pos_w = detail::ceil_div(s.o_w, m.win_w);
  if (t.pos_h * t.pos_w != m.positions) {
    throw MappingError("", 0, m.layer,
                       fmt::format("schedule has {} window positions, the mapping {}",
                                   t.pos_h * t.pos_w, m.positions));
  }
  return t;
}

}  // namespace

TileSchedule make_schedule(const LayerMapping& m, const ArrayGeometry& a, int64_t num_arrays) {
  using detail::ceil_div;
  const ConvShape& s = m.shape;
  TileSchedule t = schedule_frame(m, a);
  const int64_t area = m.pw_h * m.pw_w;
  const int64_t n_dup = m.win_h * m.win_w;
  const bool channel_tiled = m.method == "vwsdk";  // REFERENCE §4; im2col/SDK tile flat (§2, §3)

  for (int64_t g = 0; g < s.groups; ++g) {
    for (int64_t rt = 0; rt < m.row_tiles; ++rt) {
      for (int64_t ct = 0; ct < m.col_tiles; ++ct) {
        TileSpec tile;
        tile.group = g;
        tile.row_tile = rt;
        tile.col_tile = ct;
        if (channel_tiled) {
          const int64_t c0 = rt * m.ic_tile, c1 = std::min(s.ic, c0 + m.ic_tile);
          for (int64_t r = c0 * area; r < c1 * area; ++r)
            tile.rows.push_back(row_of(r, m.pw_h, m.pw_w));
          const int64_t o0 = ct * m.oc_tile, o1 = std::min(s.oc, o0 + m.oc_tile);
          for (int64_t n = 0; n < n_dup; ++n)
            for (int64_t oc = o0; oc < o1; ++oc)
              tile.cols.push_back({static_cast<int32_t>(n / m.win_w),
                                   static_cast<int32_t>(n % m.win_w), static_cast<int32_t>(oc)});
        } else {
          const int64_t r0 = rt * a.rows, r1 = std::min(s.ic * area, r0 + a.rows);
          for (int64_t r = r0; r < r1; ++r) tile.rows.push_back(row_of(r, m.pw_h, m.pw_w));
          // Window-major columns: col = n * OC + oc (REFERENCE §5).
          const int64_t w0 = ct * a.weight_cols(),
                        w1 = std::min(n_dup * s.oc, w0 + a.weight_cols());
          for (int64_t col = w0; col < w1; ++col) {
            const int64_t n = col / s.oc;
            tile.cols.push_back({static_cast<int32_t>(n / m.win_w),
                                 static_cast<int32_t>(n % m.win_w),
                                 static_cast<int32_t>(col % s.oc)});
          }
        }
        add_tile(t, std::move(tile), a, num_arrays);
      }
    }
  }
  t.rounds = static_cast<int>(ceil_div(static_cast<int64_t>(t.tiles.size()), num_arrays));
  return t;
}

TileSchedule make_row_skip_schedule(
    const LayerMapping& m, const ArrayGeometry& a, int64_t num_arrays,
    const std::function<bool(int64_t oc, int64_t c, int64_t kh, int64_t kw)>& nonzero) {
  const ConvShape& s = m.shape;
  TileSchedule t = schedule_frame(m, a);
  const int64_t area = m.pw_h * m.pw_w;
  const int64_t n_dup = m.win_h * m.win_w;
  const bool channel_tiled = m.method == "prune-vwsdk";
  for (int64_t g = 0; g < s.groups; ++g) {
    for (int64_t ct = 0; ct * m.oc_tile < s.oc; ++ct) {
      const int64_t o0 = ct * m.oc_tile, o1 = std::min(s.oc, o0 + m.oc_tile);
      std::vector<ColSlot> cols;
      for (int64_t n = 0; n < n_dup; ++n)
        for (int64_t oc = o0; oc < o1; ++oc)
          cols.push_back({static_cast<int32_t>(n / m.win_w), static_cast<int32_t>(n % m.win_w),
                          static_cast<int32_t>(oc)});
      // Wordlines (channel-major, REFERENCE §5) that meet a surviving weight of this tile.
      std::vector<RowSlot> rows;
      for (int64_t r = 0; r < s.ic * area; ++r) {
        const RowSlot row = row_of(r, m.pw_h, m.pw_w);
        bool needed = false;
        for (const auto& col : cols) {
          if (!t.holds_weight(row, col)) continue;
          const int64_t kh = row.ph - col.dy * s.s_h, kw = row.pw - col.dx * s.s_w;
          if (nonzero(g * s.oc + col.oc, row.c, kh, kw)) {
            needed = true;
            break;
          }
        }
        if (needed) rows.push_back(row);
      }
      if (rows.empty()) continue;  // every weight of the tile pruned: its outputs stay 0
      // Flat layouts pack the driven rows AR to an array; channel-tiled (VW-SDK) layouts
      // keep a channel's rows on one array (next fit in channel order).
      std::vector<size_t> starts{0};
      for (size_t r = 0, first = 0; r < rows.size(); ++r) {
        if (!channel_tiled) {
          if (r - starts.back() == static_cast<size_t>(a.rows)) starts.push_back(r);
          continue;
        }
        if (r > 0 && rows[r].c != rows[r - 1].c) first = r;
        if (r - starts.back() == static_cast<size_t>(a.rows)) starts.push_back(first);
      }
      starts.push_back(rows.size());
      for (size_t rt = 0; rt + 1 < starts.size(); ++rt) {
        TileSpec tile;
        tile.group = g;
        tile.row_tile = static_cast<int64_t>(rt);
        tile.col_tile = ct;
        tile.rows.assign(rows.begin() + static_cast<std::ptrdiff_t>(starts[rt]),
                         rows.begin() + static_cast<std::ptrdiff_t>(starts[rt + 1]));
        tile.cols = cols;
        add_tile(t, std::move(tile), a, num_arrays);
      }
    }
  }
  t.rounds = static_cast<int>(detail::ceil_div(static_cast<int64_t>(t.tiles.size()), num_arrays));
  return t;
}

TileSchedule make_placed_schedule(const LayerMapping& m, const ArrayGeometry& a, int64_t num_arrays,
                                  std::vector<TileSpec> tiles) {
  TileSchedule t = schedule_frame(m, a);
  for (auto& tile : tiles) {
    bool any = false;
    for (const auto& r : tile.rows) {
      for (const auto& c : tile.cols) {
        if (t.holds_weight(r, c)) {
          any = true;
          break;
        }
      }
      if (any) break;
    }
    if (any) add_tile(t, std::move(tile), a, num_arrays);
  }
  t.rounds = static_cast<int>(detail::ceil_div(static_cast<int64_t>(t.tiles.size()), num_arrays));
  return t;
}

std::string schedule_yaml(const std::vector<TileSchedule>& layers, int64_t max_cycles) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "layers" << YAML::Value << YAML::BeginSeq;
  int64_t listed = 0;
  for (const auto& t : layers) {
    const LayerMapping& m = t.mapping;
    out << YAML::BeginMap;
    out << YAML::Key << "layer" << YAML::Value << t.layer;
    out << YAML::Key << "method" << YAML::Value << m.method;
    out << YAML::Key << "window" << YAML::Value
        << fmt::format("PW {}x{} computing {}x{} outputs", m.pw_h, m.pw_w, m.win_h, m.win_w);
    out << YAML::Key << "positions" << YAML::Value << YAML::Flow << YAML::BeginSeq << t.pos_h
        << t.pos_w << YAML::EndSeq;
    out << YAML::Key << "computing_cycles" << YAML::Value << t.computing_cycles();
    out << YAML::Key << "rounds" << YAML::Value << t.rounds;
    out << YAML::Key << "tiles" << YAML::Value << YAML::BeginSeq;
    for (const auto& tile : t.tiles) {
      out << YAML::Flow << YAML::BeginMap;
      out << YAML::Key << "group" << YAML::Value << tile.group;
      out << YAML::Key << "row_tile" << YAML::Value << tile.row_tile;
      out << YAML::Key << "col_tile" << YAML::Value << tile.col_tile;
      out << YAML::Key << "round" << YAML::Value << tile.round;
      out << YAML::Key << "array" << YAML::Value << tile.array;
      out << YAML::Key << "rows" << YAML::Value << tile.rows.size();
      out << YAML::Key << "weight_cols" << YAML::Value << tile.cols.size();
      out << YAML::Key << "first_row" << YAML::Value
          << fmt::format("c{} ({},{})", tile.rows.front().c, tile.rows.front().ph,
                         tile.rows.front().pw);
      out << YAML::Key << "first_col" << YAML::Value
          << fmt::format("oc{} out+({},{})", tile.cols.front().oc, tile.cols.front().dy,
                         tile.cols.front().dx);
      out << YAML::Key << "mapped_weights" << YAML::Value << tile.mapped_weights;
      out << YAML::Key << "rows_new_on_shift" << YAML::Value << tile.rows_new_on_shift;
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
    out << YAML::Key << "cycles" << YAML::Value << YAML::BeginSeq;
    // Execution order: round by round; within a round every array steps through the
    // positions in raster order (the arrays of a round run in parallel).
    for (int round = 0; round < t.rounds && listed < max_cycles; ++round) {
      for (int64_t p = 0; p < t.positions() && listed < max_cycles; ++p) {
        for (size_t ti = 0; ti < t.tiles.size() && listed < max_cycles; ++ti) {
          const TileSpec& tile = t.tiles[ti];
          if (tile.round != round) continue;
          const int64_t py = p / t.pos_w, px = p % t.pos_w;
          out << YAML::Flow << YAML::BeginMap;
          out << YAML::Key << "array" << YAML::Value << tile.array;
          out << YAML::Key << "pos" << YAML::Value << YAML::Flow << YAML::BeginSeq << py << px
              << YAML::EndSeq;
          out << YAML::Key << "tile" << YAML::Value << YAML::Flow << YAML::BeginSeq << tile.group
              << tile.row_tile << tile.col_tile << YAML::EndSeq;
          out << YAML::Key << "new_rows" << YAML::Value << t.rows_to_fetch(tile, px);
          out << YAML::Key << "outputs" << YAML::Value
              << fmt::format("oy {}..{} ox {}..{} -> {}", py * m.win_h,
                             std::min(t.mapping.shape.o_h, (py + 1) * m.win_h) - 1, px * m.win_w,
                             std::min(t.mapping.shape.o_w, (px + 1) * m.win_w) - 1,
                             tile.row_tile == 0 ? "accumulator (first partial)"
                                                : "accumulator (+= partial)");
          out << YAML::EndMap;
          ++listed;
        }
      }
    }
    out << YAML::EndSeq;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace imcsim
