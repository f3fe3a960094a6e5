// study/paper.hpp: W' rebuilt from a decomposition (low-rank, group low-rank) and the
// compressed weight set a compression run leaves in the network.
#include <gtest/gtest.h>

#include <cmath>

#include "mappers/compress/compress.hpp"
#include "study/paper.hpp"
#include "workloads/loader.hpp"

namespace imcsim {
namespace {

using namespace compress;

double frob_rel(const Tensor& a, const Tensor& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.data.size(); ++i) {
    num += std::pow(static_cast<double>(a.data[i]) - static_cast<double>(b.data[i]), 2);
    den += std::pow(static_cast<double>(a.data[i]), 2);
  }
  return std::sqrt(num / den);
}

TEST(PaperStudy, LowRankWeightIsLTimesR) {
  const Network net = load_workload("resnet20");
  const WeightSet ws = synthetic_weights(net, 7);
  const Tensor& w = ws.at("layers.4.conv1").weight;  // 16 x 16 x 3 x 3
  for (const auto& [groups, axis] : std::vector<std::pair<int64_t, GroupAxis>>{
           {1, GroupAxis::In}, {4, GroupAxis::In}, {4, GroupAxis::Out}}) {
    LowRankOptions o;
    o.rank.rule = RankRule::Fixed;
    o.rank.rank = 2;
    o.groups = groups;
    o.axis = axis;
    const LowRankFactors f = decompose(w, o, "layers.4.conv1");
    const Tensor wc = paper::lowrank_weight(f, w.shape);
    ASSERT_EQ(wc.shape, w.shape);
    // Element (o, j) of W' is row o of L times column j of R, in OIHW order.
    const Eigen::MatrixXd lr = f.l_matrix() * f.r_matrix();
    for (int64_t oc = 0; oc < 16; ++oc)
      for (int64_t j = 0; j < 144; ++j)
        EXPECT_NEAR(wc.data[static_cast<size_t>(oc * 144 + j)], lr(oc, j), 1e-5);
    EXPECT_NEAR(frob_rel(w, wc), f.rel_error, 1e-6);
    EXPECT_GT(f.rel_error, 0.1);  // rank 2 of 16 loses a lot on random weights
  }
  // Full rank reproduces W.
  LowRankOptions full;
  full.rank.rule = RankRule::Fixed;
  full.rank.rank = 16;
  const Tensor back = paper::lowrank_weight(decompose(w, full, "x"), w.shape);
  EXPECT_LT(frob_rel(w, back), 1e-6);
}

TEST(PaperStudy, CompressedWeightsReplaceOnlyCompressedLayers) {
  const Network net = load_workload("resnet20");
  const WeightSet ws = synthetic_weights(net, 3);
  for (const Method m : {Method::LowRank, Method::GroupLowRank, Method::Prune}) {
    CompressionSpec spec;
    spec.method = m;
    spec.rank.rule = RankRule::Fixed;
    spec.rank.rank = 4;
    spec.groups = m == Method::GroupLowRank ? 2 : 1;
    spec.prune.patterns = builtin_patterns("pat6");
    spec.mapper = "sdk";
    const CompressionResult r =
        compress_network(net, ws, spec, ArrayGeometry::ideal(128, 128), Convention::Framework);
    const WeightSet wc = paper::compressed_weights(net, ws, spec, r);
    int compressed = 0;
    for (const CompressedLayer& cl : r.layers) {
      const Tensor& a = ws.at(cl.layer).weight;
      const Tensor& b = wc.at(cl.layer).weight;
      if (cl.method == "dense") {
        EXPECT_EQ(a.data, b.data) << cl.layer;
      } else {
        ++compressed;
        EXPECT_NEAR(frob_rel(a, b), cl.rel_error, 1e-6) << cl.layer;
        EXPECT_NE(a.data, b.data) << cl.layer;
      }
      EXPECT_EQ(ws.at(cl.layer).bn.has_value(), wc.at(cl.layer).bn.has_value());
    }
    EXPECT_GE(compressed, 17) << to_string(m);  // every 3x3 conv but the first
  }
}

TEST(PaperStudy, CompressedWeightsRejectAMismatchedRun) {
  const Network net = load_workload("resnet20");
  const WeightSet ws = synthetic_weights(net, 3);
  CompressionSpec spec;
  spec.rank.rule = RankRule::Fixed;
  spec.rank.rank = 4;
  spec.mapper = "sdk";
  const CompressionResult r =
      compress_network(net, ws, spec, ArrayGeometry::ideal(128, 128), Convention::Framework);
  spec.rank.rank = 2;  // not the spec the run used
  EXPECT_THROW(paper::compressed_weights(net, ws, spec, r), MappingError);
}

}  // namespace
}  // namespace imcsim
