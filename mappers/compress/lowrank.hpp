// Low-rank and group low-rank decomposition of conv / fc weights (REFERENCE §6, §7).
// W (OIHW) is reshaped to W_m = OC x (IC*K_h*K_w) in OIHW order, and a truncated SVD
// W_m ~ L R gives R (a K_h x K_w conv IC -> r) and L (a 1x1 conv r -> OC). Groups split
// W_m along input channels (column blocks) or output channels (row blocks), each with its
// own SVD and rank. Pure Eigen, no SystemC (DESIGN.md layout).
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <vector>

#include "workloads/weights.hpp"

namespace imcsim::compress {

// REFERENCE §6 "Rank selection" (choice: offer all three).
enum class RankRule { Fixed, Ratio, Energy };

struct RankSelection {
  RankRule rule = RankRule::Ratio;
  int64_t rank = 8;         // Fixed: r per group, clamped to the group's min(rows, cols)
  double ratio = 0.25;      // Ratio: r = ceil(ratio * min(rows, cols)) per group
  double energy = 0.9;      // Energy: smallest r with sum_{i<r} s_i^2 >= energy * ||W_g||_F^2
  std::string str() const;  // "rank=8", "ratio=0.25", "energy=0.9"
};

// REFERENCE §7: the split axis is not fixed by the paper (choice: both).
enum class GroupAxis { In, Out };
const char* to_string(GroupAxis a);

struct LowRankOptions {
  RankSelection rank;
  int64_t groups = 1;
  GroupAxis axis = GroupAxis::In;
  // L = U S^a, R = S^(1-a) V^T. REFERENCE §6 choice: a = 0.5 (sqrt of S to both sides).
  double sigma_split = 0.5;
};

// One group of the decomposition: W_m[out range, in range] ~ L R.
struct LowRankGroup {
  int64_t in_begin = 0, in_count = 0;    // input channels (all of them for GroupAxis::Out)
  int64_t out_begin = 0, out_count = 0;  // output channels (all of them for GroupAxis::In)
  int64_t rank = 0;
  Eigen::MatrixXd L;                    // out_count x rank
  Eigen::MatrixXd R;                    // rank x (in_count * k_h * k_w)
  std::vector<double> singular_values;  // all singular values of the group block
};

struct LowRankFactors {
  int64_t oc = 0, ic = 0, k_h = 1, k_w = 1;
  int64_t groups = 1;
  GroupAxis axis = GroupAxis::In;
  bool uneven = false;  // groups do not divide the split axis evenly (REFERENCE §7)
  std::vector<LowRankGroup> parts;
  double rel_error = 0;  // ||W - LR||_F / ||W||_F over all groups
  // Theorem 1 (REFERENCE §7): the group error is at most the dense rank-r error, with
  // r = the smallest group rank. For groups == 1 both are the same number.
  int64_t theorem1_rank = 0;
  double dense_rel_error = 0;  // dense truncated SVD error at theorem1_rank

  bool theorem1_holds(double tol = 1e-12) const { return rel_error <= dense_rel_error + tol; }
  std::vector<int64_t> ranks() const;
  std::vector<int64_t> group_sizes() const;  // channels per group along the split axis
  int64_t total_rank() const;                // sum of group ranks: channels between R and L
  int64_t params_dense() const { return oc * ic * k_h * k_w; }
  int64_t params() const;               // weights of R plus L
  Eigen::MatrixXd reconstruct() const;  // OC x IC*K_h*K_w
  // R as a conv weight (total_rank, IC or IC/g, K_h, K_w) and L as (OC, total_rank or r, 1, 1):
  // dense matrices with the group structure's zeros, for exporters and reference executors.
  Eigen::MatrixXd r_matrix() const;  // total_rank x IC*K_h*K_w (block-diagonal for In)
  Eigen::MatrixXd l_matrix() const;  // OC x total_rank (block-diagonal for Out)
};

// W_m of a conv weight (OC, IC, K_h, K_w) or an fc weight (OC, IC), in OIHW order.
Eigen::MatrixXd weight_matrix(const Tensor& w);
// Splits n into g parts as evenly as possible (the first n % g parts one larger).
std::vector<int64_t> split_even(int64_t n, int64_t g);
// Rank chosen by `sel` for singular values `s` of a rows x cols block.
int64_t select_rank(const RankSelection& sel, const std::vector<double>& s, int64_t rows,
                    int64_t cols);
// Relative Frobenius error of the best rank-r approximation of a matrix with singular
// values `s` (Eckart-Young): sqrt(sum_{i>=r} s_i^2 / sum s_i^2).
double truncation_error(const std::vector<double>& s, int64_t r);

// Decomposes a conv/fc weight (as trained, before any BatchNorm folding). MappingError
// (key = `layer`) when groups exceed the channels of the split axis.
LowRankFactors decompose(const Tensor& w, const LowRankOptions& o, const std::string& layer);

// Folds an inference BatchNorm after the layer into L: row o of L (and of every group's L
// holding output channel o) is scaled by gamma_o / sqrt(var_o + eps). Returns the folded
// bias gamma_o (b_o - mean_o) / sqrt(var_o + eps) + beta_o (b = 0 when `bias` is empty).
// Exact: diag(s) (L R) = (diag(s) L) R.
std::vector<double> fold_batch_norm(LowRankFactors& f, const std::vector<float>& bias,
                                    const BatchNormParams& bn);

}  // namespace imcsim::compress
