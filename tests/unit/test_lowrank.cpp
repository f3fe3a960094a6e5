// Low-rank and group low-rank compression (REFERENCE §6, §7): SVD factors, rank rules,
// Theorem 1 (group error <= dense error at the same rank) on random matrices and on the
// trained ResNet-20, exact BatchNorm folding into L, and Theorem 2 (SDK(W) = (I_N (x) L)
// SDK(R)) on the physical arrays the low-rank mapper lays out.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>

#include "mappers/compress/compress.hpp"
#include "mappers/compress/layout.hpp"
#include "mappers/mapper_detail.hpp"
#include "workloads/loader.hpp"

using namespace imcsim;
using namespace imcsim::compress;

namespace {

Tensor random_tensor(std::vector<int64_t> shape, uint64_t seed) {
  return uniform_tensor(std::move(shape), seed, -1, 1);
}

Eigen::MatrixXd random_matrix(int64_t rows, int64_t cols, SeededStream& s) {
  Eigen::MatrixXd m(rows, cols);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) m(i, j) = s.uniform(-1, 1);
  return m;
}

// A minimal reader of float32 little-endian C-order .npy files (format 1.0), enough for
// the trained weights in ../shared/data; the project's loader is workloads/npy (separate).
Tensor read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    throw std::runtime_error(path + ": not .npy");
  const size_t header_len =
      static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  const std::string header = bytes.substr(10, header_len);
  if (header.find("'<f4'") == std::string::npos ||
      header.find("'fortran_order': False") == std::string::npos)
    throw std::runtime_error(path + ": expected little-endian float32 in C order");
  std::smatch m;
  std::regex_search(header, m, std::regex(R"('shape': \(([^)]*)\))"));
  std::vector<int64_t> shape;
  std::stringstream ss(m[1].str());
  std::string part;
  while (std::getline(ss, part, ','))
    if (part.find_first_not_of(' ') != std::string::npos) shape.push_back(std::stoll(part));
  Tensor t(shape);
  std::memcpy(t.data.data(), bytes.data() + 10 + header_len, t.data.size() * sizeof(float));
  return t;
}

const std::string kResnetDir = std::string(IMCSIM_SOURCE_DIR) + "/../shared/data/resnet20-cifar10";

}  // namespace

TEST(LowRank, FullRankReconstructsAndTruncationIsEckartYoung) {
  const Tensor w = random_tensor({16, 8, 3, 3}, 3);
  LowRankOptions o;
  o.rank.rule = RankRule::Fixed;
  o.rank.rank = 16;
  LowRankFactors f = decompose(w, o, "t");
  EXPECT_LT(f.rel_error, 1e-12);
  EXPECT_EQ(f.params(), 16 * 16 + 16 * 72);
  for (int64_t r : {1, 4, 9}) {
    o.rank.rank = r;
    f = decompose(w, o, "t");
    ASSERT_EQ(f.ranks(), std::vector<int64_t>{r});
    EXPECT_NEAR(f.rel_error, truncation_error(f.parts[0].singular_values, r), 1e-12);
    // rel_error comes from the singular values: it must be the reconstruction's error.
    EXPECT_NEAR(f.rel_error, (weight_matrix(w) - f.reconstruct()).norm() / weight_matrix(w).norm(),
                1e-12);
    EXPECT_EQ(f.parts[0].L.cols(), r);
    EXPECT_EQ(f.parts[0].R.rows(), r);
    EXPECT_EQ(f.params(), r * (16 + 72));
  }
}

// SVDs are reused across calls for the same tensor (found by a hash of a sample of its
// values, confirmed value by value): a tensor differing from a cached one only where the
// hash does not look must get its own decomposition, and the same tensor the same one.
TEST(LowRank, SvdReuseIsByValue) {
  Tensor w = random_tensor({64, 64, 3, 3}, 21);  // 36,864 values: the hash samples every 9th
  LowRankOptions o;
  o.rank.rule = RankRule::Fixed;
  o.rank.rank = 8;
  const LowRankFactors a = decompose(w, o, "t");
  const LowRankFactors again = decompose(w, o, "t");
  EXPECT_EQ(a.parts[0].singular_values, again.parts[0].singular_values);
  EXPECT_EQ(a.rel_error, again.rel_error);
  w.data[1] += 10.0f;  // not a sampled value
  const LowRankFactors b = decompose(w, o, "t");
  EXPECT_NE(a.parts[0].singular_values, b.parts[0].singular_values);
  const Eigen::JacobiSVD<Eigen::MatrixXd> svd(weight_matrix(w));
  EXPECT_NEAR(b.parts[0].singular_values[0], svd.singularValues()(0), 1e-9);
  EXPECT_NEAR(b.rel_error, (weight_matrix(w) - b.reconstruct()).norm() / weight_matrix(w).norm(),
              1e-12);
  // Group blocks of the same tensor are their own entries.
  o.groups = 4;
  const LowRankFactors g = decompose(w, o, "t");
  EXPECT_NEAR(g.rel_error, (weight_matrix(w) - g.reconstruct()).norm() / weight_matrix(w).norm(),
              1e-12);
  o.axis = GroupAxis::Out;
  const LowRankFactors go = decompose(w, o, "t");
  EXPECT_NEAR(go.rel_error, (weight_matrix(w) - go.reconstruct()).norm() / weight_matrix(w).norm(),
              1e-12);
  EXPECT_NE(g.rel_error, go.rel_error);
}

TEST(LowRank, SigmaSplitOnlyMovesScale) {
  const Tensor w = random_tensor({12, 5, 3, 3}, 4);
  LowRankOptions o;
  o.rank.rule = RankRule::Fixed;
  o.rank.rank = 5;
  const LowRankFactors half = decompose(w, o, "t");
  o.sigma_split = 1.0;  // L = U S, R = V^T: R has orthonormal rows
  const LowRankFactors left = decompose(w, o, "t");
  EXPECT_LT((half.reconstruct() - left.reconstruct()).norm(), 1e-9);
  const Eigen::MatrixXd rrt = left.parts[0].R * left.parts[0].R.transpose();
  EXPECT_LT((rrt - Eigen::MatrixXd::Identity(5, 5)).norm(), 1e-9);
  // sqrt split: L^T L = R R^T = S (both carry sqrt(S)).
  const Eigen::MatrixXd ltl = half.parts[0].L.transpose() * half.parts[0].L;
  const Eigen::MatrixXd rrt2 = half.parts[0].R * half.parts[0].R.transpose();
  EXPECT_LT((ltl - rrt2).norm(), 1e-9);
}

TEST(LowRank, RankRules) {
  const std::vector<double> s = {4, 2, 1, 1};  // energies 16, 4, 1, 1 of 22
  RankSelection sel;
  sel.rule = RankRule::Energy;
  sel.energy = 16.0 / 22.0;
  EXPECT_EQ(select_rank(sel, s, 4, 10), 1);
  sel.energy = 0.8;
  EXPECT_EQ(select_rank(sel, s, 4, 10), 2);
  sel.energy = 1.0;
  EXPECT_EQ(select_rank(sel, s, 4, 10), 4);
  sel.rule = RankRule::Ratio;
  sel.ratio = 0.25;
  EXPECT_EQ(select_rank(sel, s, 16, 144), 4);
  sel.ratio = 0.3;
  EXPECT_EQ(select_rank(sel, s, 16, 144), 5);  // ceil(4.8)
  sel.rule = RankRule::Fixed;
  sel.rank = 99;
  EXPECT_EQ(select_rank(sel, s, 16, 144), 16);  // clamped to min(rows, cols)
  EXPECT_EQ(split_even(10, 3), (std::vector<int64_t>{4, 3, 3}));
}

TEST(LowRank, Theorem1OnRandomMatricesBothAxesUnevenGroups) {
  int checked = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SeededStream s(seed);
    const int64_t oc = 4 + static_cast<int64_t>(s.uniform() * 40);
    const int64_t ic = 3 + static_cast<int64_t>(s.uniform() * 30);
    const int64_t k = s.uniform() < 0.3 ? 1 : 3;
    const Tensor w = random_tensor({oc, ic, k, k}, seed * 7);
    for (GroupAxis axis : {GroupAxis::In, GroupAxis::Out}) {
      const int64_t n = axis == GroupAxis::In ? ic : oc;
      for (int64_t g : {2, 3, 4}) {
        if (g > n) continue;
        LowRankOptions o;
        o.rank.rule = RankRule::Fixed;
        o.rank.rank = 1 + static_cast<int64_t>(s.uniform() * 6);
        o.groups = g;
        o.axis = axis;
        const LowRankFactors f = decompose(w, o, "t");
        ASSERT_EQ(f.uneven, n % g != 0);
        // The dense error at the same rank, computed here from a fresh SVD of W_m.
        Eigen::JacobiSVD<Eigen::MatrixXd> svd(weight_matrix(w));
        const auto& sv = svd.singularValues();
        const std::vector<double> sv_vec(sv.data(), sv.data() + sv.size());
        const double dense = truncation_error(sv_vec, f.theorem1_rank);
        EXPECT_NEAR(f.dense_rel_error, dense, 1e-9);
        EXPECT_LE(f.rel_error, dense + 1e-12) << "seed " << seed << " g " << g;
        EXPECT_TRUE(f.theorem1_holds());
        // Reconstruction from the grouped factors as dense R / L matrices.
        EXPECT_LT((f.l_matrix() * f.r_matrix() - f.reconstruct()).norm(), 1e-9);
        const double err = (weight_matrix(w) - f.reconstruct()).norm() / weight_matrix(w).norm();
        EXPECT_NEAR(err, f.rel_error, 1e-12);
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 150);
}

TEST(LowRank, Theorem1OnTrainedResnet20) {
  if (!std::filesystem::exists(kResnetDir + "/layers.3.conv1.weight.npy"))
    GTEST_SKIP() << "trained ResNet-20 weights not found at " << kResnetDir;
  const Tensor first = read_npy(kResnetDir + "/layers.0.weight.npy");
  ASSERT_EQ(first.shape_str(), "16x3x3x3");
  EXPECT_NEAR(first.data[0], 0.123358, 1e-6);  // fingerprint from the data README
  int checked = 0;
  for (const char* name : {"layers.3.conv1", "layers.5.conv2", "layers.6.conv1", "layers.8.conv2",
                           "layers.9.conv1", "layers.11.conv2"}) {
    const Tensor w = read_npy(kResnetDir + "/" + name + ".weight.npy");
    for (GroupAxis axis : {GroupAxis::In, GroupAxis::Out})
      for (int64_t g : {2, 4})
        for (int64_t r : {2, 4, 8}) {
          LowRankOptions o;
          o.rank.rule = RankRule::Fixed;
          o.rank.rank = r;
          o.groups = g;
          o.axis = axis;
          const LowRankFactors f = decompose(w, o, name);
          EXPECT_LE(f.rel_error, f.dense_rel_error + 1e-12) << name << " g" << g << " r" << r;
          ++checked;
        }
  }
  EXPECT_EQ(checked, 6 * 2 * 2 * 3);
}

TEST(LowRank, BatchNormFoldsExactlyIntoL) {
  const Tensor w = random_tensor({10, 6, 3, 3}, 11);
  SeededStream s(12);
  BatchNormParams bn;
  std::vector<float> bias;
  for (int i = 0; i < 10; ++i) {
    bn.gamma.push_back(static_cast<float>(s.uniform(0.5, 1.5)));
    bn.beta.push_back(static_cast<float>(s.uniform(-0.2, 0.2)));
    bn.mean.push_back(static_cast<float>(s.uniform(-0.2, 0.2)));
    bn.var.push_back(static_cast<float>(s.uniform(0.5, 1.5)));
    bias.push_back(static_cast<float>(s.uniform(-0.1, 0.1)));
  }
  for (GroupAxis axis : {GroupAxis::In, GroupAxis::Out}) {
    LowRankOptions o;
    o.rank.rule = RankRule::Fixed;
    o.rank.rank = 3;
    o.groups = 3;
    o.axis = axis;
    const LowRankFactors f = decompose(w, o, "t");
    LowRankFactors folded = f;
    const std::vector<double> b = fold_batch_norm(folded, bias, bn);
    // BN(LR x + bias) == L' R x + b' for random im2col patches x.
    for (int trial = 0; trial < 5; ++trial) {
      const Eigen::VectorXd x = random_matrix(54, 1, s);
      const Eigen::VectorXd y = f.reconstruct() * x;
      const Eigen::VectorXd y2 = folded.reconstruct() * x;
      for (int oc = 0; oc < 10; ++oc) {
        const size_t i = static_cast<size_t>(oc);
        const double expected =
            bn.gamma[i] * (y(oc) + bias[i] - bn.mean[i]) / std::sqrt(double{bn.var[i]} + bn.eps) +
            bn.beta[i];
        EXPECT_NEAR(y2(oc) + b[i], expected, 1e-12);
      }
    }
    EXPECT_EQ(folded.r_matrix(), f.r_matrix());  // only L changes
  }
}

TEST(Theorem2, LayoutIdentityForManyWindows) {
  SeededStream s(21);
  for (int64_t k : {1, 3, 5})
    for (int64_t stride : {1, 2})
      for (int64_t win_h : {1, 2, 3})
        for (int64_t win_w : {1, 2, 4}) {
          const int64_t ic = 3, oc = 7, r = 2;
          const Eigen::MatrixXd l = random_matrix(oc, r, s), rm = random_matrix(r, ic * k * k, s);
          const Eigen::MatrixXd lhs = sdk_layout(l * rm, ic, k, k, win_h, win_w, stride, stride);
          const Eigen::MatrixXd rhs = sdk_layout(rm, ic, k, k, win_h, win_w, stride, stride) *
                                      kron_layout(l, win_h * win_w);
          EXPECT_LT((lhs - rhs).norm(), 1e-12) << k << " " << win_h << "x" << win_w;
        }
}

namespace {

// A plain convolution (CHW input, OIHW weight of one group, padding of the shape) in double.
std::vector<double> direct_conv(const ConvShape& s, const Eigen::MatrixXd& wm,
                                const std::vector<double>& x) {
  std::vector<double> y(static_cast<size_t>(s.oc * s.o_h * s.o_w), 0.0);
  for (int64_t o = 0; o < s.oc; ++o)
    for (int64_t oy = 0; oy < s.o_h; ++oy)
      for (int64_t ox = 0; ox < s.o_w; ++ox) {
        double acc = 0;
        for (int64_t c = 0; c < s.ic; ++c)
          for (int64_t kh = 0; kh < s.k_h; ++kh)
            for (int64_t kw = 0; kw < s.k_w; ++kw) {
              const int64_t iy = oy * s.s_h + kh - s.pad_top, ix = ox * s.s_w + kw - s.pad_left;
              if (iy < 0 || ix < 0 || iy >= s.in_h || ix >= s.in_w) continue;
              acc += wm(o, (c * s.k_h + kh) * s.k_w + kw) *
                     x[static_cast<size_t>((c * s.in_h + iy) * s.in_w + ix)];
            }
        y[static_cast<size_t>((o * s.o_h + oy) * s.o_w + ox)] = acc;
      }
  return y;
}

// What the engine computes from a schedule, in double: every tile at every window position
// drives its wordlines with the window's pixels and adds each column's dot product to its
// output (partial sums of all tiles add up). Also checks each tile fits its array.
std::vector<double> run_schedule(const TileSchedule& t, const Eigen::MatrixXd& wm,
                                 const std::vector<double>& x) {
  const ConvShape& s = t.mapping.shape;
  const LayerMapping& m = t.mapping;
  std::vector<double> y(static_cast<size_t>(s.oc * s.o_h * s.o_w), 0.0);
  for (const TileSpec& tile : t.tiles) {
    EXPECT_LE(static_cast<int64_t>(tile.rows.size()), t.array.rows);
    EXPECT_LE(static_cast<int64_t>(tile.cols.size()), t.array.weight_cols());
    for (int64_t py = 0; py < t.pos_h; ++py)
      for (int64_t px = 0; px < t.pos_w; ++px)
        for (const ColSlot& c : tile.cols) {
          const int64_t oy = py * m.win_h + c.dy, ox = px * m.win_w + c.dx;
          if (oy >= s.o_h || ox >= s.o_w) continue;
          double acc = 0;
          for (const RowSlot& r : tile.rows) {
            if (!t.holds_weight(r, c)) continue;
            const int64_t kh = r.ph - c.dy * s.s_h, kw = r.pw - c.dx * s.s_w;
            const int64_t iy = py * m.win_h * s.s_h - t.pad_h + r.ph,
                          ix = px * m.win_w * s.s_w - t.pad_w + r.pw;
            if (iy < 0 || ix < 0 || iy >= s.in_h || ix >= s.in_w) continue;
            acc += wm(c.oc, (r.c * s.k_h + kh) * s.k_w + kw) *
                   x[static_cast<size_t>((r.c * s.in_h + iy) * s.in_w + ix)];
          }
          y[static_cast<size_t>((c.oc * s.o_h + oy) * s.o_w + ox)] += acc;
        }
  }
  return y;
}

double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double d = a.size() == b.size() ? 0.0 : 1e30;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

}  // namespace

// The schedules the engine runs for a low-rank layer compute it: R's schedule (its window,
// input groups each under that window, one-array groups packed side by side) gives the R
// conv, L's schedule (I_N (x) L blocks with R's window on arrays of their own or in R's
// idle cells, or its im2col tiles; per group for output-channel groups) applied to R's
// output gives the layer; no weight is placed twice
// or missed (both compared with plain convolutions), and the plan's cycles are the
// schedules' (tiles x positions).
TEST(LowRankPlacement, SchedulesComputeTheLayerAndCostWhatTheyRun) {
  SeededStream s(41);
  int checked = 0, kron = 0, packed = 0;
  for (int trial = 0; trial < 80; ++trial) {
    const int64_t k = s.uniform() < 0.25 ? 1 : 3;
    const int64_t in = 5 + static_cast<int64_t>(s.uniform() * 14);
    const int64_t ic = 2 + static_cast<int64_t>(s.uniform() * 30);
    const int64_t oc = 2 + static_cast<int64_t>(s.uniform() * 40);
    const int64_t st = s.uniform() < 0.2 ? 2 : 1;
    const int64_t side = int64_t{32} << static_cast<int64_t>(s.uniform() * 3);  // 32..128
    const ArrayGeometry a = ArrayGeometry::ideal(side, side);
    const ConvShape shape =
        ConvShape::make("L", in, in, k, k, ic, oc, st, k / 2, Convention::Framework);
    const GroupAxis axis = s.uniform() < 0.5 ? GroupAxis::In : GroupAxis::Out;
    const int64_t g = std::min<int64_t>(1 + static_cast<int64_t>(s.uniform() * 4),
                                        axis == GroupAxis::In ? ic : oc);
    const Tensor w = random_tensor({oc, ic, k, k}, s.next_u64());
    LowRankOptions o;
    o.rank.rule = RankRule::Fixed;
    o.rank.rank = 1 + static_cast<int64_t>(s.uniform() * 4);
    o.groups = g;
    o.axis = axis;
    const LowRankFactors f = decompose(w, o, "L");
    const WindowSearch search = std::array<WindowSearch, 3>{
        WindowSearch::Sdk, WindowSearch::Vwsdk, WindowSearch::Auto}[static_cast<size_t>(trial % 3)];
    const LPlacement want =
        std::array<LPlacement, 4>{LPlacement::Auto, LPlacement::Im2col, LPlacement::Kron,
                                  LPlacement::Idle}[static_cast<size_t>((trial / 3) % 4)];
    LowRankMapping m;
    try {
      m = map_lowrank(shape, LowRankStructure::of(f), a, search, want);
    } catch (const MappingError&) {
      EXPECT_TRUE(want == LPlacement::Kron || want == LPlacement::Idle)
          << trial;  // a block > an array
      EXPECT_TRUE(f.total_rank() > a.rows || oc > a.weight_cols()) << trial;
      continue;
    }
    const int64_t t = f.total_rank();
    ConvShape rs = shape;
    rs.layer = "L.R";
    rs.oc = t;
    ConvShape ls = m.l.shape;
    const LowRankSchedules sch = lowrank_schedules(m, rs, ls, a, 1 << 20);
    std::vector<double> x(static_cast<size_t>(ic * in * in));
    for (auto& v : x) v = s.uniform(-1, 1);
    const Eigen::MatrixXd r_mat = f.r_matrix(), l_mat = f.l_matrix();
    const std::vector<double> z = direct_conv(rs, r_mat, x);
    EXPECT_LT(max_diff(run_schedule(sch.r, r_mat, x), z), 1e-9) << trial;
    const std::vector<double> y = direct_conv(ls, l_mat, z);
    EXPECT_LT(max_diff(run_schedule(sch.l, l_mat, z), y), 1e-9) << trial;
    EXPECT_LT(max_diff(y, direct_conv(shape, l_mat * r_mat, x)), 1e-9) << trial;
    // Costs are the schedules' activations.
    EXPECT_EQ(sch.r.computing_cycles(), m.r_cycles) << trial;
    // L's activations: its tiles at every position (kron, im2col); with L in R's idle cells,
    // one drain activation per R array carrying L and every position on L-only arrays.
    int64_t l_cycles = sch.l.computing_cycles();
    if (m.placement == LPlacement::Idle) {
      ASSERT_TRUE(sch.fused);
      l_cycles = 0;
      for (const TileSpec& tile : sch.l.tiles)
        l_cycles += tile.array < static_cast<int>(m.r_arrays.size()) ? 1 : sch.l.positions();
    }
    const int64_t plan_l = (m.placement == LPlacement::Kron   ? m.cycles_kron
                            : m.placement == LPlacement::Idle ? m.cycles_idle
                                                              : m.cycles_im2col) -
                           m.r_cycles;
    EXPECT_EQ(l_cycles, plan_l) << trial;
    EXPECT_EQ(m.combined.cycles, m.r_cycles + l_cycles) << trial;
    if (want != LPlacement::Auto) {
      EXPECT_EQ(m.placement, want) << trial;
    } else {
      if (m.cycles_kron >= 0) {
        EXPECT_LE(m.combined.cycles, m.cycles_kron);
      }
      if (m.cycles_idle >= 0) {
        EXPECT_LE(m.combined.cycles, m.cycles_idle);
      }
      EXPECT_LE(m.combined.cycles, m.cycles_im2col);
    }
    kron += m.placement == LPlacement::Kron ? 1 : 0;
    for (const auto& arr : m.r_arrays) packed += arr.size() > 1 ? 1 : 0;
    ++checked;
  }
  EXPECT_GT(checked, 60);
  EXPECT_GT(kron, 10);
  EXPECT_GT(packed, 3);
}

// The idle placement (analytic only) puts L's blocks on rows and columns no R piece or other
// block uses, and costs R's activations, one drain per R array carrying L, and the extra
// arrays at every position.
TEST(LowRankPlacement, IdleBlocksUseOnlyFreeCellsAndCostTheirActivations) {
  SeededStream s(43);
  int checked = 0;
  for (int trial = 0; trial < 60; ++trial) {
    const int64_t in = 6 + static_cast<int64_t>(s.uniform() * 20);
    const int64_t ic = 2 + static_cast<int64_t>(s.uniform() * 40);
    const int64_t oc = 2 + static_cast<int64_t>(s.uniform() * 60);
    const int64_t side = int64_t{64} << static_cast<int64_t>(s.uniform() * 3);
    const ArrayGeometry a = ArrayGeometry::ideal(side, side);
    const ConvShape shape = ConvShape::make("L", in, in, 3, 3, ic, oc, 1, 1, Convention::Framework);
    const GroupAxis axis = s.uniform() < 0.5 ? GroupAxis::In : GroupAxis::Out;
    const int64_t g = std::min<int64_t>(1 + static_cast<int64_t>(s.uniform() * 3),
                                        axis == GroupAxis::In ? ic : oc);
    const LowRankStructure lr = LowRankStructure::uniform(
        axis == GroupAxis::In ? ic : oc, g, 1 + static_cast<int64_t>(s.uniform() * 6), axis);
    const LowRankMapping m = map_lowrank(shape, lr, a, WindowSearch::Sdk, LPlacement::Idle);
    const size_t n_arrays = m.r_arrays.size() + static_cast<size_t>(m.l_extra_arrays);
    std::vector<std::vector<char>> row_used(n_arrays,
                                            std::vector<char>(static_cast<size_t>(a.rows), 0));
    std::vector<std::vector<char>> col_used(
        n_arrays, std::vector<char>(static_cast<size_t>(a.weight_cols()), 0));
    auto claim = [&](size_t arr, int64_t r0, int64_t rows, int64_t c0, int64_t cols) {
      ASSERT_LT(arr, n_arrays);
      ASSERT_LE(r0 + rows, a.rows);
      ASSERT_LE(c0 + cols, a.weight_cols());
      for (int64_t r = r0; r < r0 + rows; ++r) {
        ASSERT_FALSE(row_used[arr][static_cast<size_t>(r)]);
        row_used[arr][static_cast<size_t>(r)] = 1;
      }
      for (int64_t c = c0; c < c0 + cols; ++c) {
        ASSERT_FALSE(col_used[arr][static_cast<size_t>(c)]);
        col_used[arr][static_cast<size_t>(c)] = 1;
      }
    };
    std::vector<char> carries(m.r_arrays.size(), 0);
    for (size_t i = 0; i < m.r_arrays.size(); ++i) {
      int64_t r0 = 0, c0 = 0;
      for (const RPiece& p : m.r_arrays[i]) {
        claim(i, r0, p.rows, c0, p.cols);
        r0 += p.rows;
        c0 += p.cols;
      }
    }
    int64_t blocks = 0;
    for (const LBlock& b : m.l_idle) {
      claim(static_cast<size_t>(b.array), b.row0, b.rows, b.col0, b.cols);
      if (static_cast<size_t>(b.array) < carries.size()) carries[static_cast<size_t>(b.array)] = 1;
      ++blocks;
    }
    EXPECT_EQ(blocks, m.r.duplicates() * (axis == GroupAxis::Out ? g : 1)) << trial;
    const int64_t drain = std::count(carries.begin(), carries.end(), char{1});
    EXPECT_EQ(m.cycles_idle, m.r_cycles + drain + m.l_extra_arrays * m.r.positions) << trial;
    EXPECT_EQ(m.combined.cycles, m.cycles_idle);
    ++checked;
  }
  EXPECT_EQ(checked, 60);
}

// L in R's idle cells runs with every R and L tile resident: with a chip budget, windows whose
// R and extra L arrays exceed it do not admit idle; a forced idle that no window admits is a
// named error, and auto then takes another placement.
TEST(LowRankPlacement, IdleOnlyWhereRAndLFitTheChip) {
  const ConvShape shape = ConvShape::make("L", 32, 32, 3, 3, 64, 64, 1, 1, Convention::Framework);
  const ArrayGeometry a = ArrayGeometry::ideal(64, 64);
  const LowRankStructure lr = LowRankStructure::uniform(64, 1, 4, GroupAxis::In);
  const LowRankMapping free = map_lowrank(shape, lr, a, WindowSearch::Sdk, LPlacement::Idle);
  const int64_t need = static_cast<int64_t>(free.r_arrays.size()) + free.l_extra_arrays;
  ASSERT_GT(need, 1);
  const LowRankMapping fits = map_lowrank(shape, lr, a, WindowSearch::Sdk, LPlacement::Idle, need);
  EXPECT_EQ(fits.cycles_idle, free.cycles_idle);
  try {
    map_lowrank(shape, lr, a, WindowSearch::Sdk, LPlacement::Idle, 1);
    ADD_FAILURE() << "idle on one array accepted";
  } catch (const MappingError& e) {
    EXPECT_NE(std::string(e.what()).find("every tile resident on 1 arrays"), std::string::npos)
        << e.what();
  }
  const LowRankMapping small = map_lowrank(shape, lr, a, WindowSearch::Sdk, LPlacement::Auto, 1);
  EXPECT_NE(small.placement, LPlacement::Idle);
  EXPECT_EQ(small.cycles_idle, -1);
}
