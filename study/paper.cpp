#include "study/paper.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "workloads/error.hpp"

namespace imcsim::paper {

using namespace compress;

Tensor lowrank_weight(const LowRankFactors& f, const std::vector<int64_t>& shape) {
  const Eigen::MatrixXd wm = f.reconstruct();  // OC x IC*K_h*K_w, OIHW order
  Tensor t(shape);
  if (t.size() != wm.size())
    throw MappingError("", 0, "",
                       fmt::format("W' has {} values, the weight {}", wm.size(), t.shape_str()));
  for (int64_t o = 0; o < wm.rows(); ++o)
    for (int64_t j = 0; j < wm.cols(); ++j)
      t.data[static_cast<size_t>(o * wm.cols() + j)] = static_cast<float>(wm(o, j));
  return t;
}

namespace {

double rel_error(const Tensor& w, const Tensor& wc) {
  double num = 0, den = 0;
  for (size_t i = 0; i < w.data.size(); ++i) {
    const double d = static_cast<double>(w.data[i]) - static_cast<double>(wc.data[i]);
    num += d * d;
    den += static_cast<double>(w.data[i]) * static_cast<double>(w.data[i]);
  }
  return den > 0 ? std::sqrt(num / den) : 0.0;
}

}  // namespace

WeightSet compressed_weights(const Network& net, const WeightSet& w, const CompressionSpec& spec,
                             const CompressionResult& r) {
  WeightSet out = w;
  out.source = w.source + " compressed(" + r.method + ")";
  for (const CompressedLayer& cl : r.layers) {
    if (cl.method == "dense") continue;
    const Layer* layer = net.find(cl.layer);
    if (!layer) throw MappingError("", 0, cl.layer, "compressed layer not in the network");
    const LayerWeights& lw = w.at(cl.layer);
    Tensor wc;
    double err_run = cl.rel_error;
    if (cl.method == "prune") {
      const ConvShape shape = conv_shape(*layer, r.convention);
      const int64_t block_oc =
          spec.prune.block_oc > 0 ? spec.prune.block_oc : std::min(shape.oc, r.array.weight_cols());
      wc = prune_patterns(lw.weight, spec.prune, block_oc, cl.layer).weight;
    } else {
      // The options compress_layer used (REFERENCE §6, §7), overrides included.
      LowRankOptions lo;
      const auto ov = spec.layers.find(cl.layer);
      const LayerOverride* o = ov == spec.layers.end() ? nullptr : &ov->second;
      lo.rank = o && o->rank ? *o->rank : spec.rank;
      lo.groups = spec.method == Method::GroupLowRank ? spec.groups : 1;
      if (o && o->groups) lo.groups = *o->groups;
      lo.axis = o && o->axis ? *o->axis : spec.axis;
      lo.sigma_split = spec.sigma_split;
      const LowRankFactors f = decompose(lw.weight, lo, cl.layer);
      wc = lowrank_weight(f, lw.weight.shape);
    }
    const double err = rel_error(lw.weight, wc);
    if (std::abs(err - err_run) > 1e-9)
      throw MappingError(
          "", 0, cl.layer,
          fmt::format("rebuilt W' has error {:.12g}, the compression run {:.12g}", err, err_run));
    out.layers[cl.layer].weight = std::move(wc);
  }
  return out;
}

}  // namespace imcsim::paper
