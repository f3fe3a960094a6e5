#include "mappers/compress/pruning.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "mappers/mapper_detail.hpp"
#include "workloads/error.hpp"
#include "workloads/yaml_reader.hpp"

namespace imcsim::compress {

namespace {

int popcount(uint32_t m) {
  int n = 0;
  for (; m; m &= m - 1) ++n;
  return n;
}

uint32_t bit(int64_t kh, int64_t kw) {
  return 1u << (kh * 3 + kw);
}

}  // namespace

int64_t PatternSet::entries() const {
  return masks.empty() ? 0 : popcount(masks.front());
}

const std::vector<std::string>& builtin_pattern_sets() {
  static const std::vector<std::string> names = {"pat4", "pat6", "pat8"};
  return names;
}

PatternSet builtin_patterns(const std::string& name) {
  PatternSet p;
  p.name = name;
  p.k = 3;
  const uint32_t all = 0x1ff;
  if (name == "pat4") {
    for (int64_t qh = 0; qh < 2; ++qh)  // 2x2 quadrants around the centre
      for (int64_t qw = 0; qw < 2; ++qw)
        p.masks.push_back(bit(qh, qw) | bit(qh, qw + 1) | bit(qh + 1, qw) | bit(qh + 1, qw + 1));
    const uint32_t cross = bit(0, 1) | bit(1, 0) | bit(1, 2) | bit(2, 1);
    for (uint32_t drop : {bit(0, 1), bit(1, 0), bit(1, 2), bit(2, 1)})
      p.masks.push_back(bit(1, 1) | (cross & ~drop));
  } else if (name == "pat6") {
    const uint32_t row0 = bit(0, 0) | bit(0, 1) | bit(0, 2), row2 = row0 << 6;
    const uint32_t col0 = bit(0, 0) | bit(1, 0) | bit(2, 0), col2 = col0 << 2;
    for (uint32_t drop : {row2, row0, col2, col0}) p.masks.push_back(all & ~drop);
  } else if (name == "pat8") {
    for (uint32_t drop : {bit(0, 0), bit(0, 2), bit(2, 0), bit(2, 2)})
      p.masks.push_back(all & ~drop);
  } else {
    throw MappingError("", 0, "patterns",
                       fmt::format("unknown pattern set \"{}\" (expected one of {}, or a list of "
                                   "masks such as \"110/110/000\")",
                                   name, join_choices(builtin_pattern_sets())));
  }
  return p;
}

uint32_t parse_pattern(const std::string& text, int64_t k) {
  uint32_t m = 0;
  int64_t n = 0, row_len = 0;
  bool ok = true;
  for (char ch : text) {
    if (ch == '/') {
      ok = ok && row_len == k;
      row_len = 0;
      continue;
    }
    if (ch != '0' && ch != '1') {
      ok = false;
      break;
    }
    if (ch == '1' && n < 32) m |= 1u << n;
    ++n;
    ++row_len;
  }
  const bool slashed = text.find('/') != std::string::npos;
  ok = ok && n == k * k && (!slashed || row_len == k) && m != 0;
  if (!ok)
    throw MappingError("", 0, "patterns",
                       fmt::format("expected a {}x{} 0/1 mask with at least one 1 such as "
                                   "\"110/110/000\", got \"{}\"",
                                   k, k, text));
  return m;
}

std::string pattern_string(uint32_t mask, int64_t k) {
  std::string s;
  for (int64_t i = 0; i < k * k; ++i) {
    if (i && i % k == 0) s += '/';
    s += (mask >> i) & 1u ? '1' : '0';
  }
  return s;
}

PrunedWeights prune_patterns(const Tensor& w, const PruneOptions& o, int64_t block_oc,
                             const std::string& layer) {
  if (w.shape.size() != 4 || w.shape[2] != o.patterns.k || w.shape[3] != o.patterns.k)
    throw MappingError("", 0, layer,
                       fmt::format("pattern set {} is for {}x{} kernels, the weight is {}",
                                   o.patterns.name, o.patterns.k, o.patterns.k, w.shape_str()));
  if (o.patterns.masks.empty()) throw MappingError("", 0, layer, "empty pattern set");
  PrunedWeights p;
  p.oc = w.shape[0];
  p.ic = w.shape[1];
  p.k_h = p.k_w = o.patterns.k;
  const int64_t kk = p.k_h * p.k_w;
  p.weight = w;
  p.nonzero.assign(static_cast<size_t>(p.oc * p.ic), 0);
  p.pattern_use.assign(o.patterns.masks.size(), 0);
  const int64_t block = o.scope == PatternScope::Kernel ? 1 : std::max<int64_t>(1, block_oc);
  auto weight_at = [&](int64_t oc, int64_t c, int64_t pos) {
    return static_cast<double>(w.data[static_cast<size_t>((oc * p.ic + c) * kk + pos)]);
  };
  for (int64_t c = 0; c < p.ic; ++c)
    for (int64_t b0 = 0; b0 < p.oc; b0 += block) {
      const int64_t b1 = std::min(p.oc, b0 + block);
      // The pattern keeping the most summed |W| over the block (REFERENCE §8); ties: first.
      size_t best = 0;
      double best_kept = -1;
      for (size_t pi = 0; pi < o.patterns.masks.size(); ++pi) {
        double kept = 0;
        for (int64_t oc = b0; oc < b1; ++oc)
          for (int64_t pos = 0; pos < kk; ++pos)
            if ((o.patterns.masks[pi] >> pos) & 1u) kept += std::abs(weight_at(oc, c, pos));
        if (kept > best_kept) {
          best_kept = kept;
          best = pi;
        }
      }
      const uint32_t mask = o.patterns.masks[best];
      for (int64_t oc = b0; oc < b1; ++oc) {
        ++p.pattern_use[best];
        uint32_t nz = 0;
        for (int64_t pos = 0; pos < kk; ++pos) {
          float& v = p.weight.data[static_cast<size_t>((oc * p.ic + c) * kk + pos)];
          if (!((mask >> pos) & 1u)) v = 0.0f;
          if (v != 0.0f) nz |= 1u << pos;  // skipping follows the actual zeros
        }
        p.nonzero[static_cast<size_t>(oc * p.ic + c)] = nz;
        p.kept += popcount(nz);
      }
    }
  double total = 0, removed = 0;
  for (size_t i = 0; i < w.data.size(); ++i) {
    const double v = w.data[i], d = v - static_cast<double>(p.weight.data[i]);
    total += v * v;
    removed += d * d;
  }
  p.rel_error = total > 0 ? std::sqrt(removed / total) : 0.0;
  return p;
}

int64_t covered_rows(uint32_t mask, int64_t k_h, int64_t k_w, int64_t win_h, int64_t win_w,
                     int64_t s_h, int64_t s_w) {
  const int64_t pw_h = detail::window_side(win_h, k_h, s_h);
  const int64_t pw_w = detail::window_side(win_w, k_w, s_w);
  std::vector<char> covered(static_cast<size_t>(pw_h * pw_w), 0);
  for (int64_t kh = 0; kh < k_h; ++kh)
    for (int64_t kw = 0; kw < k_w; ++kw) {
      if (!((mask >> (kh * k_w + kw)) & 1u)) continue;
      for (int64_t x = 0; x < win_h; ++x)
        for (int64_t y = 0; y < win_w; ++y)
          covered[static_cast<size_t>((x * s_h + kh) * pw_w + y * s_w + kw)] = 1;
    }
  return std::count(covered.begin(), covered.end(), char{1});
}

namespace {

// Arrays one column tile needs for its driven rows: flat layouts pack them AR to an array;
// channel-tiled (VW-SDK) layouts keep each channel's rows on one array, next fit in channel
// order (make_row_skip_schedule builds the same tiles).
int64_t row_tiles_of(const std::vector<int64_t>& rows_per_channel, int64_t ar, bool channel_tiled) {
  int64_t total = 0, tiles = 0, cur = 0;
  for (int64_t r : rows_per_channel) {
    total += r;
    if (!channel_tiled || r == 0) continue;
    if (tiles == 0 || cur + r > ar) {
      ++tiles;
      cur = r;
    } else {
      cur += r;
    }
  }
  return channel_tiled ? tiles : detail::ceil_div(total, ar);
}

// Per output-channel tile width: the kept-position union of each (column tile, channel),
// and per column tile the distinct unions with their counts.
struct Unions {
  std::vector<uint32_t> of;                                     // [ct * IC + c]
  std::vector<std::vector<std::pair<uint32_t, int64_t>>> hist;  // per column tile
};

// The Unions of each output-channel tile width, computed on first use.
class UnionCache {
 public:
  UnionCache(const ConvShape& s, const PrunedWeights& p) : s_(s), p_(p) {}
  const Unions& operator()(int64_t oct) {
    const ConvShape& s = s_;
    Unions& u = unions_of_[oct];
    if (!u.of.empty()) return u;
    const int64_t col_tiles = detail::ceil_div(s.oc, oct);
    u.of.assign(static_cast<size_t>(col_tiles * s.ic), 0);
    for (int64_t oc = 0; oc < s.oc; ++oc)
      for (int64_t c = 0; c < s.ic; ++c)
        u.of[static_cast<size_t>((oc / oct) * s.ic + c)] |= p_.at(oc, c);
    u.hist.resize(static_cast<size_t>(col_tiles));
    for (int64_t ct = 0; ct < col_tiles; ++ct) {
      std::map<uint32_t, int64_t> h;
      for (int64_t c = 0; c < s.ic; ++c) ++h[u.of[static_cast<size_t>(ct * s.ic + c)]];
      u.hist[static_cast<size_t>(ct)].assign(h.begin(), h.end());
    }
    return u;
  }

 private:
  const ConvShape& s_;
  const PrunedWeights& p_;
  std::map<int64_t, Unions> unions_of_;
};

// covered_rows of a kept-position union for a window of wi x wj positions, computed on
// first use.
class CoverCache {
 public:
  explicit CoverCache(const ConvShape& s) : s_(s) {}
  int64_t operator()(uint32_t u, int64_t wi, int64_t wj) {
    const ConvShape& s = s_;
    auto it = cover_.find({u, wi, wj});
    if (it == cover_.end()) {
      const int64_t rows = covered_rows(u, s.k_h, s.k_w, wj, wi, s.s_h, s.s_w);
      it = cover_.emplace(std::make_tuple(u, wi, wj), rows).first;
    }
    return it->second;
  }

 private:
  const ConvShape& s_;
  std::map<std::tuple<uint32_t, int64_t, int64_t>, int64_t> cover_;  // (union, i, j) -> rows
};

// The arrays of a candidate: total and the largest row-tile count of a column tile.
struct RowTiles {
  int64_t arrays = 0, max_rt = 0;
};

// Row tiles of each column tile of `cand` with `driven` rows each; fills m's row counts
// and row_tiles_per_col_tile.
RowTiles pack_row_tiles(const ConvShape& s, const ArrayGeometry& a, const LayerMapping& cand,
                        const Unions& u, const std::vector<int64_t>& driven, CoverCache& covered,
                        RowSkipMapping& m) {
  using detail::ceil_div;
  const bool channel_tiled = cand.method == "vwsdk";
  const int64_t wi = cand.win_w, wj = cand.win_h;
  const int64_t col_tiles = static_cast<int64_t>(driven.size());
  int64_t arrays = 0, max_rt = 0;
  std::vector<int64_t> per_channel(static_cast<size_t>(s.ic));
  for (int64_t ct = 0; ct < col_tiles; ++ct) {
    int64_t rt = ceil_div(driven[static_cast<size_t>(ct)], a.rows);
    if (channel_tiled) {
      for (int64_t c = 0; c < s.ic; ++c)
        per_channel[static_cast<size_t>(c)] =
            covered(u.of[static_cast<size_t>(ct * s.ic + c)], wi, wj);
      rt = row_tiles_of(per_channel, a.rows, true);
    }
    m.rows_driven += driven[static_cast<size_t>(ct)];
    m.rows_dense += s.ic * cand.pw_h * cand.pw_w;
    m.row_tiles_per_col_tile.push_back(rt);
    arrays += rt;
    max_rt = std::max(max_rt, rt);
  }
  return {arrays, max_rt};
}

// m.mapping and the index costs of `cand` packed as `t` in `cycles`, with oc tile `oct`.
void set_mapping(RowSkipMapping& m, const LayerMapping& cand, const ConvShape& s,
                 const ArrayGeometry& a, const PruneOptions& o, int64_t oct, const RowTiles& t,
                 int64_t cycles, int64_t nz_cells) {
  const bool channel_tiled = cand.method == "vwsdk";
  const int64_t n_dup = cand.win_w * cand.win_h;
  const int64_t col_tiles = detail::ceil_div(s.oc, oct);
  const int64_t arrays = t.arrays, max_rt = t.max_rt;
  LayerMapping& lm = m.mapping;
  lm = cand;
  lm.layer = s.layer;
  lm.mapper = "prune";
  lm.method = "prune-" + cand.method;
  lm.shape = s;
  lm.ic_tile = channel_tiled ? cand.ic_tile : s.ic;
  lm.oc_tile = oct;
  // Column tiles may need different row-tile counts: the grid is column tiles x the
  // largest count, and extra_arrays = arrays - grid (<= 0) makes arrays() the true sum.
  lm.row_tiles = max_rt;
  lm.col_tiles = col_tiles;
  lm.extra_arrays = arrays - max_rt * col_tiles;
  lm.cycles = cycles;
  const double cells = static_cast<double>(arrays * a.rows * a.cols);
  lm.utilization = static_cast<double>(n_dup * nz_cells * a.cols_per_weight) / cells;
  lm.row_utilization = static_cast<double>(m.rows_driven) / static_cast<double>(arrays * a.rows);
  lm.col_utilization =
      static_cast<double>(n_dup * s.oc * a.cols_per_weight) / static_cast<double>(arrays * a.cols);
  m.index_energy_pj =
      static_cast<double>(cand.positions * m.rows_driven) * o.index_energy_pj_per_row;
  m.index_area_um2 = static_cast<double>(arrays * a.rows) * o.index_area_um2_per_row;
}

}  // namespace

RowSkipMapping map_row_skipping(const ConvShape& s, const PrunedWeights& p, const ArrayGeometry& a,
                                const PruneOptions& o, WindowSearch search) {
  using detail::ceil_div;
  if (s.groups != 1 || p.oc != s.oc || p.ic != s.ic || p.k_h != s.k_h || p.k_w != s.k_w)
    throw MappingError("", 0, s.layer, "pruned weights do not match the layer shape");
  const int64_t ac = a.weight_cols();
  int64_t nz_cells = 0;
  for (uint32_t nz : p.nonzero) nz_cells += popcount(nz);
  UnionCache unions(s, p);
  CoverCache covered(s);
  RowSkipMapping best;
  int64_t best_arrays = 0;
  bool have = false;
  // The windows of the search, the same ones a dense layer may use; the rows each leaves
  // after skipping decide among them. A window whose lower bound (one array per column
  // tile, then the flat packing of its driven rows) already costs more is not packed.
  for (const LayerMapping& cand : window_candidates(s, a, search)) {
    const bool channel_tiled = cand.method == "vwsdk";
    const int64_t wi = cand.win_w, wj = cand.win_h, n_dup = wi * wj;
    const int64_t oct = channel_tiled ? cand.oc_tile : std::min(s.oc, ac / n_dup);
    const int64_t col_tiles = ceil_div(s.oc, oct);
    if (have && cand.positions * col_tiles > best.mapping.cycles) continue;
    const Unions& u = unions(oct);
    RowSkipMapping m;
    std::vector<int64_t> driven(static_cast<size_t>(col_tiles), 0);
    int64_t bound = 0;
    for (int64_t ct = 0; ct < col_tiles; ++ct) {
      for (const auto& [mask, count] : u.hist[static_cast<size_t>(ct)])
        driven[static_cast<size_t>(ct)] += count * covered(mask, wi, wj);
      bound += ceil_div(driven[static_cast<size_t>(ct)], a.rows);
    }
    if (have && cand.positions * bound > best.mapping.cycles) continue;
    const RowTiles t = pack_row_tiles(s, a, cand, u, driven, covered, m);
    const int64_t cycles = cand.positions * t.arrays;
    const bool better = !have || cycles < best.mapping.cycles ||
                        (cycles == best.mapping.cycles && t.arrays < best_arrays);
    if (!better) continue;
    have = true;
    best_arrays = t.arrays;
    set_mapping(m, cand, s, a, o, oct, t, cycles, nz_cells);
    best = std::move(m);
  }
  if (!have) throw MappingError("", 0, s.layer, "no window fits the array for row skipping");
  return best;
}

}  // namespace imcsim::compress
