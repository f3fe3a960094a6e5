#include "mappers/compress/pruning.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

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

uint32_t bit(int64_t kh, int64_t kw) { return 1u << (kh * 3 + kw); }

}  // namespace

int64_t PatternSet::entries() const { return masks.empty() ? 0 : popcount(masks.front()); }

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
    for (uint32_t drop : {bit(0, 0), bit(0, 2), bit(2, 0), bit(2, 2)}) p.masks.push_back(all & ~drop);
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

RowSkipMapping map_row_skipping(const ConvShape& s, const PrunedWeights& p, const ArrayGeometry& a,
                                const PruneOptions& o) {
  using detail::ceil_div;
  if (s.groups != 1 || p.oc != s.oc || p.ic != s.ic || p.k_h != s.k_h || p.k_w != s.k_w)
    throw MappingError("", 0, s.layer, "pruned weights do not match the layer shape");
  const int64_t ac = a.weight_cols();
  RowSkipMapping best;
  int64_t best_arrays = 0;
  bool have = false;
  for (int64_t i = 1; i <= std::min(s.o_h, s.o_w) && i * i <= ac; ++i) {
    const int64_t n_dup = i * i;
    const int64_t pw_h = detail::window_side(i, s.k_h, s.s_h);
    const int64_t pw_w = detail::window_side(i, s.k_w, s.s_w);
    const int64_t oct = std::min(s.oc, ac / n_dup);
    const int64_t col_tiles = ceil_div(s.oc, oct);
    const int64_t positions = ceil_div(s.o_h, i) * ceil_div(s.o_w, i);
    std::map<uint32_t, int64_t> cover;  // union mask -> covered rows, for this window
    RowSkipMapping m;
    int64_t arrays = 0, max_rt = 0, nz_cells = 0;
    for (int64_t ct = 0; ct < col_tiles; ++ct) {
      int64_t rows = 0;
      for (int64_t c = 0; c < s.ic; ++c) {
        uint32_t u = 0;
        for (int64_t oc = ct * oct; oc < std::min(s.oc, (ct + 1) * oct); ++oc) u |= p.at(oc, c);
        auto it = cover.find(u);
        if (it == cover.end())
          it = cover.emplace(u, covered_rows(u, s.k_h, s.k_w, i, i, s.s_h, s.s_w)).first;
        rows += it->second;
      }
      m.rows_dense += s.ic * pw_h * pw_w;
      m.rows_driven += rows;
      const int64_t rt = ceil_div(rows, a.rows);
      m.row_tiles_per_col_tile.push_back(rt);
      arrays += rt;
      max_rt = std::max(max_rt, rt);
    }
    for (uint32_t nz : p.nonzero) nz_cells += popcount(nz);
    const int64_t cycles = positions * arrays;
    const bool better = !have || cycles < best.mapping.cycles ||
                        (cycles == best.mapping.cycles && arrays <= best_arrays);
    if (!better) continue;
    have = true;
    best_arrays = arrays;
    LayerMapping& lm = m.mapping;
    lm.layer = s.layer;
    lm.mapper = "prune";
    lm.method = i == 1 ? "prune-im2col" : "prune-sdk";
    lm.shape = s;
    lm.pw_h = pw_h;
    lm.pw_w = pw_w;
    lm.win_h = lm.win_w = i;
    lm.ic_tile = s.ic;
    lm.oc_tile = oct;
    // Column tiles may need different row-tile counts: the grid is column tiles x the
    // largest count, and extra_arrays = arrays - grid (<= 0) makes arrays() the true sum.
    lm.row_tiles = max_rt;
    lm.col_tiles = col_tiles;
    lm.extra_arrays = arrays - max_rt * col_tiles;
    lm.positions = positions;
    lm.cycles = cycles;
    const double cells = static_cast<double>(arrays * a.rows * a.cols);
    lm.utilization = static_cast<double>(n_dup * nz_cells * a.cols_per_weight) / cells;
    lm.row_utilization = static_cast<double>(m.rows_driven) / static_cast<double>(arrays * a.rows);
    lm.col_utilization = static_cast<double>(n_dup * s.oc * a.cols_per_weight) /
                         static_cast<double>(arrays * a.cols);
    m.index_energy_pj = static_cast<double>(positions * m.rows_driven) * o.index_energy_pj_per_row;
    m.index_area_um2 = static_cast<double>(arrays * a.rows) * o.index_area_um2_per_row;
    best = std::move(m);
  }
  if (!have) throw MappingError("", 0, s.layer, "no window fits the array for row skipping");
  return best;
}

}  // namespace imcsim::compress
