#include "mappers/compress/expand.hpp"

#include <fmt/format.h>

#include "workloads/error.hpp"

namespace imcsim::compress {

namespace {

bool equal_groups(const LowRankFactors& f) {
  for (const auto& g : f.parts) {
    if (g.rank != f.parts.front().rank) return false;
  }
  return !f.uneven;
}

}  // namespace

std::string r_factor_name(const std::string& layer) {
  return layer + ".R";
}

std::string layer_of_r_factor(const std::string& name) {
  const bool r = name.size() > 2 && name.compare(name.size() - 2, 2, ".R") == 0;
  return r ? name.substr(0, name.size() - 2) : std::string();
}

ExpandedNetwork expand_lowrank(const Network& net, const WeightSet& weights,
                               const CompressionResult& plan, bool dense_groups) {
  std::map<std::string, const CompressedLayer*> by_name;
  for (const auto& c : plan.layers) by_name[c.layer] = &c;

  ExpandedNetwork out;
  out.net.name = net.name;
  out.net.source = net.source;
  out.net.input = net.input;
  out.weights.source = weights.source;
  for (const auto& l : net.layers) {
    auto it = by_name.find(l.name);
    const bool lowrank = it != by_name.end() &&
                         (it->second->method == "lowrank" || it->second->method == "group-lowrank");
    if (!lowrank) {
      out.net.layers.push_back(l);
      out.origin[l.name] = l.name;
      if (l.on_arrays()) out.weights.layers[l.name] = weights.at(l.name);
      continue;
    }
    const CompressedLayer& c = *it->second;
    if (!c.factors) throw MappingError("", 0, l.name, "compressed layer has no factors to execute");
    const LowRankFactors& f = *c.factors;
    const int64_t rank = f.total_rank();
    const bool grouped = !dense_groups && f.groups > 1 && equal_groups(f);
    const bool conv = l.type == LayerType::Conv;
    if (f.groups > 1 && !grouped && !dense_groups) {
      out.notes.push_back(
          fmt::format("{}: uneven groups executed as dense R and L with the "
                      "structural zeros",
                      l.name));
    }

    // R: the K x K part, IC -> rank (grouped along input channels when it can be).
    Layer r = l;
    r.name = r_factor_name(l.name);
    r.out.c = rank;
    r.bias = false;
    r.batch_norm = false;
    r.act = Activation::None;
    r.groups = grouped && f.axis == GroupAxis::In ? f.groups : 1;
    LayerWeights rw;
    const Eigen::MatrixXd rm = f.r_matrix();  // rank x IC*K*K, block-diagonal for In groups
    const int64_t kk = f.k_h * f.k_w;
    const int64_t ic_per = f.ic / r.groups, r_per = rank / r.groups;
    rw.weight = conv ? Tensor({rank, ic_per, f.k_h, f.k_w}) : Tensor({rank, f.ic});
    for (int64_t o = 0; o < rank; ++o) {
      const int64_t g = o / r_per;
      for (int64_t i = 0; i < ic_per * kk; ++i)
        rw.weight.data[static_cast<size_t>(o * ic_per * kk + i)] =
            static_cast<float>(rm(o, g * ic_per * kk + i));
    }

    // L: 1x1, rank -> OC (grouped along output channels when it can be), BN folded.
    Layer lf = l;
    lf.inputs = {r.name};
    lf.in = r.out;
    lf.k_h = lf.k_w = 1;
    lf.stride_h = lf.stride_w = 1;
    lf.pad_h = lf.pad_w = 0;
    lf.pad_h_end = lf.pad_w_end = -1;
    lf.dilation_h = lf.dilation_w = 1;
    lf.groups = grouped && f.axis == GroupAxis::Out ? f.groups : 1;
    lf.batch_norm = false;
    LayerWeights lw;
    const Eigen::MatrixXd lm = f.l_matrix();  // OC x rank, block-diagonal for Out groups
    const int64_t oc_per = f.oc / lf.groups, rk_per = rank / lf.groups;
    lw.weight = conv ? Tensor({f.oc, rk_per, 1, 1}) : Tensor({f.oc, rank});
    for (int64_t o = 0; o < f.oc; ++o) {
      const int64_t g = o / oc_per;
      for (int64_t k = 0; k < rk_per; ++k)
        lw.weight.data[static_cast<size_t>(o * rk_per + k)] =
            static_cast<float>(lm(o, g * rk_per + k));
    }
    const LayerWeights& orig = weights.at(l.name);
    if (!c.folded_bias.empty()) {
      lw.bias.assign(c.folded_bias.begin(), c.folded_bias.end());
    } else {
      lw.bias = orig.bias;
      lw.bn = orig.bn;  // not folded (fold_bn: false): L keeps the BatchNorm
      lf.batch_norm = orig.bn.has_value();
    }
    lf.bias = !lw.bias.empty();

    out.net.layers.push_back(r);
    out.origin[r.name] = l.name;
    out.weights.layers[r.name] = std::move(rw);
    out.net.layers.push_back(lf);
    out.origin[lf.name] = l.name;
    out.weights.layers[lf.name] = std::move(lw);
  }
  check_weights(out.net, out.weights);
  return out;
}

}  // namespace imcsim::compress
