#include "mappers/compress/lowrank.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "workloads/error.hpp"
#include "workloads/hash.hpp"

namespace imcsim::compress {

std::string RankSelection::str() const {
  switch (rule) {
    case RankRule::Fixed: return fmt::format("rank={}", rank);
    case RankRule::Ratio: return fmt::format("ratio={}", ratio);
    case RankRule::Energy: break;
  }
  return fmt::format("energy={}", energy);
}

const char* to_string(GroupAxis a) {
  return a == GroupAxis::In ? "in" : "out";
}

namespace {
void require_weight_shape(const Tensor& w) {
  if (w.shape.size() != 4 && w.shape.size() != 2)
    throw WorkloadError(
        "", 0, "weight",
        fmt::format("expected a conv (OIHW) or fc (OI) weight, got {}", w.shape_str()));
}
}  // namespace

Eigen::MatrixXd weight_matrix(const Tensor& w) {
  require_weight_shape(w);
  const int64_t oc = w.shape[0];
  const int64_t cols = w.size() / oc;
  // OIHW is row-major with O outermost, so row o of W_m is the contiguous slice o.
  using RowMajorF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Map<const RowMajorF> src(w.data.data(), oc, cols);
  return src.cast<double>();
}

std::vector<int64_t> split_even(int64_t n, int64_t g) {
  std::vector<int64_t> parts(static_cast<size_t>(g), n / g);
  for (int64_t i = 0; i < n % g; ++i) ++parts[static_cast<size_t>(i)];
  return parts;
}

double truncation_error(const std::vector<double>& s, int64_t r) {
  double total = 0, kept = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    total += s[i] * s[i];
    if (static_cast<int64_t>(i) < r) kept += s[i] * s[i];
  }
  return total > 0 ? std::sqrt(std::max(0.0, total - kept) / total) : 0.0;
}

int64_t select_rank(const RankSelection& sel, const std::vector<double>& s, int64_t rows,
                    int64_t cols) {
  const int64_t full = std::min(rows, cols);
  const int64_t r = [&]() -> int64_t {
    switch (sel.rule) {
      case RankRule::Fixed: return sel.rank;
      case RankRule::Ratio:
        // ceil with a small tolerance so 0.25 * 16 is 4, not 5 from rounding noise.
        return static_cast<int64_t>(std::ceil(sel.ratio * static_cast<double>(full) - 1e-9));
      case RankRule::Energy: {
        double total = 0;
        for (double v : s) total += v * v;
        double kept = 0;
        int64_t n = 0;
        while (n < static_cast<int64_t>(s.size()) && kept < sel.energy * total * (1 - 1e-12)) {
          kept += s[static_cast<size_t>(n)] * s[static_cast<size_t>(n)];
          ++n;
        }
        return n;
      }
    }
    return full;
  }();
  return std::clamp<int64_t>(r, 1, full);
}

namespace {

struct Svd {
  Eigen::MatrixXd u, v;
  std::vector<double> s;
};

Svd compute_svd(const Eigen::MatrixXd& m) {
  // BDCSVD switches to Jacobi for small blocks itself; thin factors are all we need.
  Eigen::BDCSVD<Eigen::MatrixXd> svd(m, Eigen::ComputeThinU | Eigen::ComputeThinV);
  Svd out;
  out.u = svd.matrixU();
  out.v = svd.matrixV();
  const auto& sv = svd.singularValues();
  out.s.assign(sv.data(), sv.data() + sv.size());
  return out;
}

// Sweeps and studies decompose the same weight tensor for many ranks, arrays and methods:
// the SVDs of its group blocks are computed once per process and reused. An entry is found
// by a hash of the tensor's values and then compared value by value, so a hit is always the
// same tensor (a pure function: results are the same bits either way). Shared by sweep threads.
struct BlockSvds {
  std::vector<int64_t> shape;
  std::vector<float> values;                       // the tensor, to confirm a hash hit exactly
  std::vector<std::shared_ptr<const Svd>> blocks;  // one per group, in group order
};

uint64_t content_hash(const Tensor& w) {
  // FNV-1a over the shape and at most 4,096 evenly spaced values: only a bucket key (a hit is
  // confirmed by comparing every value), so it need not read the whole tensor.
  uint64_t h = kFnvOffsetBasis;
  const auto mix = [&h](uint64_t v) { h = fnv1a_mix(h, v); };
  for (int64_t d : w.shape) mix(static_cast<uint64_t>(d));
  const size_t n = w.data.size();
  const size_t step = std::max<size_t>(1, n / 4096);
  for (size_t i = 0; i < n; i += step) {
    uint32_t bits = 0;
    std::memcpy(&bits, w.data.data() + i, sizeof bits);
    mix(bits);
  }
  return h;
}

// Blocks of the group split: rows [out_begin, +out_count) x columns [in_begin*kk, +in_count*kk).
std::vector<LowRankGroup> group_blocks(int64_t oc, int64_t ic, GroupAxis axis, int64_t groups) {
  std::vector<LowRankGroup> out;
  int64_t begin = 0;
  for (int64_t size : split_even(axis == GroupAxis::In ? ic : oc, groups)) {
    LowRankGroup g;
    if (axis == GroupAxis::In) {
      g.in_begin = begin;
      g.in_count = size;
      g.out_count = oc;
    } else {
      g.out_begin = begin;
      g.out_count = size;
      g.in_count = ic;
    }
    begin += size;
    out.push_back(std::move(g));
  }
  return out;
}

std::shared_ptr<const BlockSvds> block_svds(const Tensor& w, GroupAxis axis, int64_t groups) {
  if (groups == 1) axis = GroupAxis::In;  // one block either way
  static std::mutex mutex;
  using Key = std::tuple<uint64_t, int, int64_t>;
  static std::map<Key, std::vector<std::shared_ptr<const BlockSvds>>> cache;
  static size_t cached_values = 0;
  constexpr size_t kMaxCachedValues = size_t{1} << 25;  // ~256 MiB of doubles, then start over
  const Key key{content_hash(w), axis == GroupAxis::In ? 0 : 1, groups};
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache.find(key);
    if (it != cache.end())
      for (const auto& e : it->second)
        if (e->shape == w.shape && e->values.size() == w.data.size() &&
            std::memcmp(e->values.data(), w.data.data(), w.data.size() * sizeof(float)) == 0)
          return e;
  }
  const Eigen::MatrixXd wm = weight_matrix(w);
  const int64_t oc = w.shape[0], ic = w.shape.size() > 1 ? w.shape[1] : 1;
  const int64_t kk = ic > 0 ? wm.cols() / ic : 1;
  auto entry = std::make_shared<BlockSvds>();
  entry->shape = w.shape;
  entry->values = w.data;
  size_t values = entry->values.size() / 2;
  for (const LowRankGroup& g : group_blocks(oc, ic, axis, groups)) {
    auto svd = std::make_shared<const Svd>(
        compute_svd(wm.block(g.out_begin, g.in_begin * kk, g.out_count, g.in_count * kk)));
    values += static_cast<size_t>(svd->u.size() + svd->v.size());
    entry->blocks.push_back(std::move(svd));
  }
  std::lock_guard<std::mutex> lock(mutex);
  if (cached_values + values > kMaxCachedValues) {
    cache.clear();
    cached_values = 0;
  }
  cache[key].push_back(entry);
  cached_values += values;
  return entry;
}

}  // namespace

std::vector<int64_t> LowRankFactors::ranks() const {
  std::vector<int64_t> r;
  for (const auto& p : parts) r.push_back(p.rank);
  return r;
}

std::vector<int64_t> LowRankFactors::group_sizes() const {
  std::vector<int64_t> g;
  for (const auto& p : parts) g.push_back(axis == GroupAxis::In ? p.in_count : p.out_count);
  return g;
}

int64_t LowRankFactors::total_rank() const {
  int64_t t = 0;
  for (const auto& p : parts) t += p.rank;
  return t;
}

int64_t LowRankFactors::params() const {
  int64_t n = 0;
  for (const auto& p : parts) n += p.L.size() + p.R.size();
  return n;
}

Eigen::MatrixXd LowRankFactors::reconstruct() const {
  const int64_t kk = k_h * k_w;
  Eigen::MatrixXd w = Eigen::MatrixXd::Zero(oc, ic * kk);
  for (const auto& p : parts)
    w.block(p.out_begin, p.in_begin * kk, p.out_count, p.in_count * kk) = p.L * p.R;
  return w;
}

Eigen::MatrixXd LowRankFactors::r_matrix() const {
  const int64_t kk = k_h * k_w;
  Eigen::MatrixXd r = Eigen::MatrixXd::Zero(total_rank(), ic * kk);
  int64_t row = 0;
  for (const auto& p : parts) {
    r.block(row, p.in_begin * kk, p.rank, p.in_count * kk) = p.R;
    row += p.rank;
  }
  return r;
}

Eigen::MatrixXd LowRankFactors::l_matrix() const {
  Eigen::MatrixXd l = Eigen::MatrixXd::Zero(oc, total_rank());
  int64_t col = 0;
  for (const auto& p : parts) {
    l.block(p.out_begin, col, p.out_count, p.rank) = p.L;
    col += p.rank;
  }
  return l;
}

LowRankFactors decompose(const Tensor& w, const LowRankOptions& o, const std::string& layer) {
  require_weight_shape(w);
  LowRankFactors f;
  f.oc = w.shape[0];
  f.ic = w.shape[1];
  f.k_h = w.shape.size() == 4 ? w.shape[2] : 1;
  f.k_w = w.shape.size() == 4 ? w.shape[3] : 1;
  f.groups = o.groups;
  f.axis = o.axis;
  const int64_t split_n = o.axis == GroupAxis::In ? f.ic : f.oc;
  if (o.groups < 1 || o.groups > split_n) {
    throw MappingError("", 0, layer,
                       fmt::format("cannot split {} {} channels into {} groups", split_n,
                                   o.axis == GroupAxis::In ? "input" : "output", o.groups));
  }
  if (o.sigma_split < 0 || o.sigma_split > 1)
    throw MappingError("", 0, layer, "sigma_split must lie in 0..1");
  f.uneven = split_n % o.groups != 0;

  const std::shared_ptr<const BlockSvds> svds = block_svds(w, o.axis, o.groups);
  f.parts = group_blocks(f.oc, f.ic, o.axis, o.groups);
  // The blocks partition W, so ||W||^2 and ||W - L R||^2 are sums of the blocks' squared
  // singular values (all, and those past each block's rank): the Eckart-Young identity, with
  // no reconstruction of W.
  double total = 0, dropped = 0;
  for (size_t b = 0; b < f.parts.size(); ++b) {
    LowRankGroup& g = f.parts[b];
    const Svd& svd = *svds->blocks[b];
    g.singular_values = svd.s;
    g.rank = select_rank(o.rank, svd.s, g.out_count, g.in_count * f.k_h * f.k_w);
    for (size_t i = 0; i < svd.s.size(); ++i) {
      total += svd.s[i] * svd.s[i];
      if (static_cast<int64_t>(i) >= g.rank) dropped += svd.s[i] * svd.s[i];
    }
    // REFERENCE §6: L = U_r S_r^a, R = S_r^(1-a) V_r^T (a = 0.5 by default).
    Eigen::VectorXd s_l(g.rank), s_r(g.rank);
    for (int64_t i = 0; i < g.rank; ++i) {
      s_l(i) = std::pow(svd.s[static_cast<size_t>(i)], o.sigma_split);
      s_r(i) = std::pow(svd.s[static_cast<size_t>(i)], 1.0 - o.sigma_split);
    }
    g.L = svd.u.leftCols(g.rank) * s_l.asDiagonal();
    g.R = s_r.asDiagonal() * svd.v.leftCols(g.rank).transpose();
  }

  f.rel_error = total > 0 ? std::sqrt(dropped / total) : 0.0;
  const std::vector<int64_t> ranks = f.ranks();
  f.theorem1_rank = *std::min_element(ranks.begin(), ranks.end());
  if (o.groups == 1) {
    f.dense_rel_error = f.rel_error;
  } else {
    f.dense_rel_error =
        truncation_error(block_svds(w, GroupAxis::In, 1)->blocks[0]->s, f.theorem1_rank);
  }
  return f;
}

std::vector<double> fold_batch_norm(LowRankFactors& f, const std::vector<float>& bias,
                                    const BatchNormParams& bn) {
  std::vector<double> folded(static_cast<size_t>(f.oc));
  std::vector<double> scale(static_cast<size_t>(f.oc));
  for (int64_t o = 0; o < f.oc; ++o) {
    const size_t i = static_cast<size_t>(o);
    scale[i] = static_cast<double>(bn.gamma[i]) /
               std::sqrt(static_cast<double>(bn.var[i]) + static_cast<double>(bn.eps));
    const double b = bias.empty() ? 0.0 : static_cast<double>(bias[i]);
    folded[i] = scale[i] * (b - static_cast<double>(bn.mean[i])) + static_cast<double>(bn.beta[i]);
  }
  for (auto& p : f.parts)
    for (int64_t r = 0; r < p.out_count; ++r)
      p.L.row(r) *= scale[static_cast<size_t>(p.out_begin + r)];
  return folded;
}

}  // namespace imcsim::compress
