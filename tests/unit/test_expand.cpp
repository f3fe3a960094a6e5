// A compressed network as executable layers (mappers/compress/expand.hpp): running the R
// and L layers equals running the original layers with the reconstructed weights L*R, with
// and without BatchNorm folded into L, for low-rank and both group axes.
#include <gtest/gtest.h>

#include "mappers/compress/expand.hpp"
#include "workloads/loader.hpp"
#include "workloads/reference.hpp"

using namespace imcsim;

namespace {

ref::FloatTensor seeded_image(const Network& net) {
  ref::FloatTensor x(net.input.c, net.input.h, net.input.w);
  SeededStream rng(3);
  for (auto& v : x.data) v = rng.uniform();
  return x;
}

double max_diff(const ref::FloatTensor& a, const ref::FloatTensor& b) {
  double m = 0;
  for (size_t i = 0; i < a.data.size(); ++i) m = std::max(m, std::abs(a.data[i] - b.data[i]));
  return m;
}

struct Case {
  compress::Method method;
  int64_t groups;
  compress::GroupAxis axis;
};

}  // namespace

TEST(Expand, RAndLLayersEqualTheReconstructedWeights) {
  const Network net = load_workload("resnet20");
  const WeightSet w = synthetic_weights(net, 5);
  const ArrayGeometry a = ArrayGeometry::ideal(128, 128);
  const ref::FloatTensor x = seeded_image(net);
  for (const Case& c : {Case{compress::Method::LowRank, 1, compress::GroupAxis::In},
                        Case{compress::Method::GroupLowRank, 2, compress::GroupAxis::In},
                        Case{compress::Method::GroupLowRank, 4, compress::GroupAxis::Out},
                        Case{compress::Method::GroupLowRank, 3, compress::GroupAxis::In}}) {
    SCOPED_TRACE(::testing::Message() << compress::to_string(c.method) << " g=" << c.groups);
    compress::CompressionSpec spec;
    spec.method = c.method;
    spec.groups = c.groups;
    spec.axis = c.axis;
    spec.rank.rule = compress::RankRule::Fixed;
    spec.rank.rank = 3;
    spec.fold_bn = false;
    const auto plan = compress::compress_network(net, w, spec, a, Convention::Framework);
    const auto ex = compress::expand_lowrank(net, w, plan);
    // Oracle: the original network with W replaced by L*R, BN untouched.
    WeightSet rec = w;
    int compressed = 0;
    for (const auto& cl : plan.layers) {
      if (!cl.factors) continue;
      ++compressed;
      const Eigen::MatrixXd m = cl.factors->reconstruct();
      Tensor& t = rec.layers.at(cl.layer).weight;
      for (int64_t o = 0; o < m.rows(); ++o)
        for (int64_t i = 0; i < m.cols(); ++i)
          t.data[static_cast<size_t>(o * m.cols() + i)] = static_cast<float>(m(o, i));
    }
    EXPECT_EQ(compressed, 19 + 2 - 1);  // every conv but the first (excluded); fc excluded
    EXPECT_EQ(ex.net.layers.size(), net.layers.size() + static_cast<size_t>(compressed));
    const auto want = ref::run_float(net, rec, x);
    const auto got = ref::run_float(ex.net, ex.weights, x);
    EXPECT_LT(max_diff(got.output(), want.output()), 1e-4);

    // Folding BN into L changes nothing but rounding.
    spec.fold_bn = true;
    const auto plan2 = compress::compress_network(net, w, spec, a, Convention::Framework);
    const auto ex2 = compress::expand_lowrank(net, w, plan2);
    for (const auto& l : ex2.net.layers) {
      if (ex2.origin.at(l.name) == l.name && net.find(l.name)->batch_norm && l.k_h == 1 &&
          net.find(l.name)->k_h == 3) {
        EXPECT_FALSE(l.batch_norm) << l.name << ": BN should be folded into L";
      }
    }
    const auto got2 = ref::run_float(ex2.net, ex2.weights, x);
    EXPECT_LT(max_diff(got2.output(), want.output()), 1e-4);
    // Even input groups make R a grouped conv; output groups make L one.
    const Layer* r = ex.net.find("layers.4.conv1.R");
    const Layer* l = ex.net.find("layers.4.conv1");
    ASSERT_TRUE(r && l);
    if (c.groups == 2 && c.axis == compress::GroupAxis::In) {
      EXPECT_EQ(r->groups, 2);
    }
    if (c.groups == 4 && c.axis == compress::GroupAxis::Out) {
      EXPECT_EQ(l->groups, 4);
    }
    if (c.groups == 3) {
      EXPECT_FALSE(ex.notes.empty());  // 16 channels do not split in 3
    }
  }
}
