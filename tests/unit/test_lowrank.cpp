// Low-rank and group low-rank compression (REFERENCE §6, §7): SVD factors, rank rules,
// Theorem 1 (group error <= dense error at the same rank) on random matrices and on the
// trained ResNet-20, exact BatchNorm folding into L, and Theorem 2 (SDK(W) = (I_N (x) L)
// SDK(R)) on the physical arrays the low-rank mapper lays out.
#include <gtest/gtest.h>

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
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) throw std::runtime_error(path + ": not .npy");
  const size_t header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  const std::string header = bytes.substr(10, header_len);
  if (header.find("'<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos)
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
    EXPECT_EQ(f.parts[0].L.cols(), r);
    EXPECT_EQ(f.parts[0].R.rows(), r);
    EXPECT_EQ(f.params(), r * (16 + 72));
  }
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
            bn.gamma[i] * (y(oc) + bias[i] - bn.mean[i]) / std::sqrt(double{bn.var[i]} + bn.eps) + bn.beta[i];
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
          const Eigen::MatrixXd rhs =
              sdk_layout(rm, ic, k, k, win_h, win_w, stride, stride) * kron_layout(l, win_h * win_w);
          EXPECT_LT((lhs - rhs).norm(), 1e-12) << k << " " << win_h << "x" << win_w;
        }
}

namespace {

// Direct window outputs: out(n * OC + oc) = sum_{c,kh,kw} W[oc,c,kh,kw] x[c, x*s+kh, y*s+kw].
Eigen::VectorXd direct_window(const Eigen::MatrixXd& wm, const Eigen::VectorXd& px, int64_t ic,
                              int64_t k, int64_t win_h, int64_t win_w, int64_t st) {
  const int64_t pw_h = detail::window_side(win_h, k, st), pw_w = detail::window_side(win_w, k, st);
  Eigen::VectorXd out = Eigen::VectorXd::Zero(win_h * win_w * wm.rows());
  for (int64_t x = 0; x < win_h; ++x)
    for (int64_t y = 0; y < win_w; ++y)
      for (int64_t o = 0; o < wm.rows(); ++o) {
        double acc = 0;
        for (int64_t c = 0; c < ic; ++c)
          for (int64_t kh = 0; kh < k; ++kh)
            for (int64_t kw = 0; kw < k; ++kw)
              acc += wm(o, (c * k + kh) * k + kw) * px(c * pw_h * pw_w + (x * st + kh) * pw_w + y * st + kw);
        out((x * win_w + y) * wm.rows() + o) = acc;
      }
  return out;
}

}  // namespace

// The mapper's own placement: R's layout on its row x column tiles, I_N (x) L blocks in the
// idle rows/columns it reports (and on extra arrays). One activation drives R's rows with
// the window's pixels and L's rows with R's (accumulated) outputs; the R columns must give
// R's outputs, the L columns the outputs of the uncompressed W = L R.
TEST(Theorem2, IdlePlacementOnTheMappersArraysComputesTheLayer) {
  SeededStream s(31);
  int checked = 0;
  struct Case { int64_t in, k, st, ic, oc, rank, groups; GroupAxis axis; int64_t rows, cols; const char* mapper; };
  const std::vector<Case> cases = {
      {16, 3, 1, 16, 16, 2, 1, GroupAxis::In, 256, 256, "vwsdk"},
      {16, 3, 1, 16, 32, 4, 1, GroupAxis::In, 512, 512, "sdk"},
      {12, 3, 1, 8, 16, 2, 2, GroupAxis::In, 128, 128, "vwsdk"},
      {12, 3, 2, 8, 12, 3, 2, GroupAxis::Out, 256, 128, "vwsdk"},
      {10, 3, 1, 6, 10, 2, 3, GroupAxis::In, 128, 256, "sdk"},
      {9, 1, 1, 12, 8, 2, 1, GroupAxis::In, 64, 64, "vwsdk"},
      {14, 5, 1, 4, 8, 2, 2, GroupAxis::Out, 256, 256, "vwsdk"},
  };
  for (const Case& c : cases) {
    const ConvShape shape = ConvShape::make("L", c.in, c.in, c.k, c.k, c.ic, c.oc, c.st,
                                            c.k / 2, Convention::Framework);
    const Tensor w = random_tensor({c.oc, c.ic, c.k, c.k}, s.next_u64());
    LowRankOptions o;
    o.rank.rule = RankRule::Fixed;
    o.rank.rank = c.rank;
    o.groups = c.groups;
    o.axis = c.axis;
    const LowRankFactors f = decompose(w, o, "L");
    const ArrayGeometry a = ArrayGeometry::ideal(c.rows, c.cols);
    const LowRankMapping m =
        map_lowrank(shape, LowRankStructure::of(f), a, find_mapper(c.mapper), LPlacement::Idle);
    const LayerMapping& rm = m.r;
    const int64_t t = f.total_rank(), n = rm.duplicates(), area = rm.pw_h * rm.pw_w;
    const Eigen::MatrixXd r_mat = f.r_matrix(), l_mat = f.l_matrix();
    std::vector<Eigen::MatrixXd> arrays =
        fill_arrays(m.r_tiles, sdk_layout(r_mat, c.ic, c.k, c.k, rm.win_h, rm.win_w, c.st, c.st));
    for (int64_t e = 0; e < m.l_extra_arrays; ++e) arrays.push_back(Eigen::MatrixXd::Zero(a.rows, a.weight_cols()));
    // Place the L blocks where the mapper says, checking they land on free rows and columns.
    std::vector<std::vector<char>> row_is_r(arrays.size(), std::vector<char>(static_cast<size_t>(a.rows), 0));
    std::vector<std::vector<char>> col_is_r(arrays.size(), std::vector<char>(static_cast<size_t>(a.weight_cols()), 0));
    for (size_t i = 0; i < m.r_tiles.row_pos.size(); ++i)
      for (int64_t ct = 0; ct < m.r_tiles.col_tiles; ++ct)
        row_is_r[static_cast<size_t>(m.r_tiles.array(m.r_tiles.row_tile[i], ct))][static_cast<size_t>(m.r_tiles.row_pos[i])] = 1;
    for (size_t i = 0; i < m.r_tiles.col_pos.size(); ++i)
      for (int64_t rt = 0; rt < m.r_tiles.row_tiles; ++rt)
        col_is_r[static_cast<size_t>(m.r_tiles.array(rt, m.r_tiles.col_tile[i]))][static_cast<size_t>(m.r_tiles.col_pos[i])] = 1;
    int64_t dups_placed = 0;
    for (const LBlock& b : m.l_blocks) {
      for (int64_t d = 0; d < b.dup_count; ++d) {
        const int64_t r0 = b.row0 + d * t, c0 = b.col0 + d * c.oc;
        ASSERT_LE(r0 + t, a.rows);
        ASSERT_LE(c0 + c.oc, a.weight_cols());
        for (int64_t q = 0; q < t; ++q) ASSERT_FALSE(row_is_r[static_cast<size_t>(b.array)][static_cast<size_t>(r0 + q)]);
        for (int64_t oc = 0; oc < c.oc; ++oc) ASSERT_FALSE(col_is_r[static_cast<size_t>(b.array)][static_cast<size_t>(c0 + oc)]);
        ASSERT_EQ(arrays[static_cast<size_t>(b.array)].block(r0, c0, t, c.oc).norm(), 0.0);
        arrays[static_cast<size_t>(b.array)].block(r0, c0, t, c.oc) = l_mat.transpose();
      }
      dups_placed += b.dup_count;
    }
    ASSERT_EQ(dups_placed, n);

    for (int trial = 0; trial < 2; ++trial) {
      const Eigen::VectorXd px = random_matrix(c.ic * area, 1, s);
      // Pass 1 (window p): R's rows only; accumulate R's outputs over row tiles.
      Eigen::VectorXd z = Eigen::VectorXd::Zero(n * t);
      std::vector<Eigen::VectorXd> drive(arrays.size(), Eigen::VectorXd::Zero(a.rows));
      for (size_t i = 0; i < m.r_tiles.row_pos.size(); ++i)
        for (int64_t ct = 0; ct < m.r_tiles.col_tiles; ++ct)
          drive[static_cast<size_t>(m.r_tiles.array(m.r_tiles.row_tile[i], ct))](m.r_tiles.row_pos[i]) = px(static_cast<int64_t>(i));
      std::vector<Eigen::VectorXd> col_out(arrays.size());
      for (size_t ai = 0; ai < arrays.size(); ++ai) col_out[ai] = arrays[ai].transpose() * drive[ai];
      for (size_t j = 0; j < m.r_tiles.col_pos.size(); ++j)
        for (int64_t rt = 0; rt < m.r_tiles.row_tiles; ++rt)
          z(static_cast<int64_t>(j)) += col_out[static_cast<size_t>(m.r_tiles.array(rt, m.r_tiles.col_tile[j]))](m.r_tiles.col_pos[j]);
      EXPECT_LT((z - direct_window(r_mat, px, c.ic, c.k, rm.win_h, rm.win_w, c.st)).norm(), 1e-9);
      // Pass 2 (window p + 1 on R's rows, window p's z on L's rows, same activation).
      for (const LBlock& b : m.l_blocks)
        for (int64_t d = 0; d < b.dup_count; ++d)
          drive[static_cast<size_t>(b.array)].segment(b.row0 + d * t, t) = z.segment((b.dup_begin + d) * t, t);
      for (size_t ai = 0; ai < arrays.size(); ++ai) col_out[ai] = arrays[ai].transpose() * drive[ai];
      Eigen::VectorXd y(n * c.oc);
      for (const LBlock& b : m.l_blocks)
        for (int64_t d = 0; d < b.dup_count; ++d)
          y.segment((b.dup_begin + d) * c.oc, c.oc) = col_out[static_cast<size_t>(b.array)].segment(b.col0 + d * c.oc, c.oc);
      const Eigen::VectorXd expect = direct_window(l_mat * r_mat, px, c.ic, c.k, rm.win_h, rm.win_w, c.st);
      EXPECT_LT((y - expect).norm(), 1e-9 * (1 + expect.norm())) << "case " << checked;
      // R's columns are undisturbed by L's rows.
      Eigen::VectorXd z2 = Eigen::VectorXd::Zero(n * t);
      for (size_t j = 0; j < m.r_tiles.col_pos.size(); ++j)
        for (int64_t rt = 0; rt < m.r_tiles.row_tiles; ++rt)
          z2(static_cast<int64_t>(j)) += col_out[static_cast<size_t>(m.r_tiles.array(rt, m.r_tiles.col_tile[j]))](m.r_tiles.col_pos[j]);
      EXPECT_LT((z2 - z).norm(), 1e-9);
    }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(cases.size()));
}

// Cycles of a low-rank layer against an independent count: the arrays are filled with the
// mapper's actual layout and activations are counted step by step (step p drives window p
// on R's rows and window p-1's R outputs on L's rows; an array fires when it has work).
TEST(LowRankCycles, EqualAnIndependentActivationCount) {
  SeededStream s(41);
  int checked = 0, feasible = 0;
  for (int trial = 0; trial < 60; ++trial) {
    const int64_t k = s.uniform() < 0.25 ? 1 : 3;
    const int64_t in = 6 + static_cast<int64_t>(s.uniform() * 20);
    const int64_t ic = 2 + static_cast<int64_t>(s.uniform() * 40);
    const int64_t oc = 2 + static_cast<int64_t>(s.uniform() * 60);
    const int64_t st = s.uniform() < 0.2 ? 2 : 1;
    const int64_t side = int64_t{32} << static_cast<int64_t>(s.uniform() * 4);  // 32..256
    const ArrayGeometry a = ArrayGeometry::ideal(side, side);
    const ConvShape shape = ConvShape::make("L", in, in, k, k, ic, oc, st, k / 2, Convention::Framework);
    const GroupAxis axis = s.uniform() < 0.5 ? GroupAxis::In : GroupAxis::Out;
    const int64_t g = std::min<int64_t>(1 + static_cast<int64_t>(s.uniform() * 3), axis == GroupAxis::In ? ic : oc);
    LowRankStructure lr = LowRankStructure::uniform(axis == GroupAxis::In ? ic : oc, g,
                                                    1 + static_cast<int64_t>(s.uniform() * 6), axis);
    const char* mapper = s.uniform() < 0.5 ? "sdk" : "vwsdk";
    const LowRankMapping m = map_lowrank(shape, lr, a, find_mapper(mapper), LPlacement::Auto);
    const int64_t t = lr.total_rank(), n = m.r.duplicates(), positions = m.r.positions;

    // R with every structurally nonzero entry set to 1.
    LowRankFactors f;
    f.oc = oc; f.ic = ic; f.k_h = f.k_w = k; f.axis = axis; f.groups = g;
    int64_t begin = 0;
    for (size_t i = 0; i < lr.sizes.size(); ++i) {
      LowRankGroup grp;
      grp.rank = lr.ranks[i];
      if (axis == GroupAxis::In) { grp.in_begin = begin; grp.in_count = lr.sizes[i]; grp.out_count = oc; }
      else { grp.out_begin = begin; grp.out_count = lr.sizes[i]; grp.in_count = ic; }
      begin += lr.sizes[i];
      grp.R = Eigen::MatrixXd::Ones(grp.rank, grp.in_count * k * k);
      grp.L = Eigen::MatrixXd::Ones(grp.out_count, grp.rank);
      f.parts.push_back(grp);
    }
    const auto arrays = fill_arrays(m.r_tiles, sdk_layout(f.r_matrix(), ic, k, k, m.r.win_h, m.r.win_w, st, st));
    std::vector<char> has_r(arrays.size()), has_l(arrays.size() + static_cast<size_t>(m.l_extra_arrays), 0);
    for (size_t i = 0; i < arrays.size(); ++i) has_r[i] = arrays[i].cwiseAbs().sum() > 0;
    has_r.resize(has_l.size(), 0);
    for (const LBlock& b : m.l_blocks) has_l[static_cast<size_t>(b.array)] = 1;
    int64_t idle_count = 0;
    for (int64_t p = 0; p <= positions; ++p)
      for (size_t i = 0; i < has_l.size(); ++i) idle_count += (p < positions && has_r[i]) || (p >= 1 && has_l[i]);
    // Idle needs one t x OC block to fit an array (or R's idle space to take every block).
    EXPECT_EQ(m.idle_feasible, m.l_blocks.size() > 0 || n == 0);
    if (m.idle_feasible) EXPECT_EQ(m.cycles_idle, idle_count) << trial;
    else EXPECT_GT(oc, a.cols);
    feasible += m.idle_feasible ? 1 : 0;
    // R alone and L on its own im2col tiles (REFERENCE §2; grouped L skips all-zero tiles).
    int64_t r_count = 0;
    for (size_t i = 0; i < arrays.size(); ++i) r_count += has_r[i] ? positions : 0;
    EXPECT_EQ(m.r_cycles, r_count);
    const auto l_arrays = fill_arrays(place_tiles(m.l, a), f.l_matrix().transpose());
    int64_t l_count = 0;
    for (const auto& arr : l_arrays) l_count += arr.cwiseAbs().sum() > 0 ? shape.o_h * shape.o_w : 0;
    EXPECT_EQ(m.cycles_im2col, r_count + l_count);
    if (g == 1) {
      EXPECT_EQ(l_count, shape.o_h * shape.o_w * detail::ceil_div(t, a.rows) * detail::ceil_div(oc, a.cols));
      ConvShape rs = shape;
      rs.oc = t;
      EXPECT_EQ(m.r_cycles, map_layer(find_mapper(mapper), rs, a).cycles);
    }
    EXPECT_EQ(m.combined.cycles, m.idle_feasible ? std::min(m.cycles_idle, m.cycles_im2col) : m.cycles_im2col);
    EXPECT_GE(n, 1);
    ++checked;
  }
  EXPECT_EQ(checked, 60);
  EXPECT_GT(feasible, 30);
}
