#include "workloads/weights.hpp"

#include <fmt/format.h>

#include <cmath>

#include "workloads/error.hpp"
#include "workloads/finite.hpp"
#include "workloads/hash.hpp"

namespace imcsim {

Tensor::Tensor(std::vector<int64_t> dims) : shape(std::move(dims)) {
  data.assign(static_cast<size_t>(size()), 0.0f);
}

int64_t Tensor::size() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return shape.empty() ? 0 : n;
}

std::string Tensor::shape_str() const {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
  return s.empty() ? "(scalar)" : s;
}

const LayerWeights& WeightSet::at(const std::string& layer) const {
  auto it = layers.find(layer);
  if (it == layers.end()) throw WorkloadError(source, 0, layer, "no weights for this layer");
  return it->second;
}

std::vector<int64_t> expected_weight_shape(const Layer& l) {
  if (l.type == LayerType::Conv) return {l.out.c, l.in.c / l.groups, l.k_h, l.k_w};
  if (l.type == LayerType::Fc) return {l.out.c, l.in_features()};
  return {};
}

uint64_t SeededStream::next_u64() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double SeededStream::uniform() {
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

double SeededStream::uniform(double lo, double hi) {
  return lo + (hi - lo) * uniform();
}

SeededStream SeededStream::for_name(uint64_t seed, const std::string& name) {
  SeededStream s(fnv1a(name, kFnvOffsetBasis ^ seed));  // the name's hash, mixed with the seed
  s.next_u64();
  return s;
}

Tensor uniform_tensor(std::vector<int64_t> shape, uint64_t seed, double lo, double hi) {
  Tensor t(std::move(shape));
  SeededStream s(seed);
  for (auto& v : t.data) v = static_cast<float>(s.uniform(lo, hi));
  return t;
}

WeightSet synthetic_weights(const Network& net, uint64_t seed) {
  WeightSet w;
  w.source = fmt::format("synthetic(seed={})", seed);
  for (const auto& l : net.layers) {
    if (!l.on_arrays()) continue;
    SeededStream rng = SeededStream::for_name(seed, l.name);
    LayerWeights lw;
    lw.weight = Tensor(expected_weight_shape(l));
    const int64_t fan_in = lw.weight.size() / lw.weight.shape[0];
    const double bound = std::sqrt(6.0 / static_cast<double>(fan_in));
    for (auto& v : lw.weight.data) v = static_cast<float>(rng.uniform(-bound, bound));
    if (l.bias) {
      lw.bias.resize(static_cast<size_t>(l.out.c));
      for (auto& v : lw.bias) v = static_cast<float>(rng.uniform(-0.1, 0.1));
    }
    if (l.batch_norm) {
      BatchNormParams bn;
      const size_t n = static_cast<size_t>(l.out.c);
      bn.gamma.resize(n);
      bn.beta.resize(n);
      bn.mean.resize(n);
      bn.var.resize(n);
      for (size_t i = 0; i < n; ++i) {
        bn.gamma[i] = static_cast<float>(rng.uniform(0.5, 1.5));
        bn.beta[i] = static_cast<float>(rng.uniform(-0.1, 0.1));
        bn.mean[i] = static_cast<float>(rng.uniform(-0.1, 0.1));
        bn.var[i] = static_cast<float>(rng.uniform(0.5, 1.5));
      }
      lw.bn = std::move(bn);
    }
    w.layers.emplace(l.name, std::move(lw));
  }
  return w;
}

void check_weights(const Network& net, const WeightSet& weights) {
  for (const auto& l : net.layers) {
    if (!l.on_arrays()) continue;
    const LayerWeights& lw = weights.at(l.name);
    Tensor want(expected_weight_shape(l));
    if (lw.weight.shape != want.shape) {
      throw WorkloadError(weights.source, 0, l.name,
                          fmt::format("weight shape {} does not match the layer: expected {}",
                                      lw.weight.shape_str(), want.shape_str()));
    }
    if (static_cast<int64_t>(lw.weight.data.size()) != lw.weight.size()) {
      throw WorkloadError(
          weights.source, 0, l.name,
          fmt::format("weight holds {} values, its shape {} needs {}", lw.weight.data.size(),
                      lw.weight.shape_str(), lw.weight.size()));
    }
    const size_t oc = static_cast<size_t>(l.out.c);
    if (!lw.bias.empty() && lw.bias.size() != oc) {
      throw WorkloadError(weights.source, 0, l.name,
                          fmt::format("bias has {} values, expected {}", lw.bias.size(), oc));
    }
    if (lw.bn) {
      for (const auto* v : {&lw.bn->gamma, &lw.bn->beta, &lw.bn->mean, &lw.bn->var}) {
        if (v->size() != oc)
          throw WorkloadError(
              weights.source, 0, l.name,
              fmt::format("batch-norm parameter has {} values, expected {}", v->size(), oc));
      }
    }
    check_weight_values(l.name, lw, weights.source);
  }
}

void check_weight_values(const std::string& layer, const LayerWeights& lw,
                         const std::string& source) {
  auto finite = [&](const std::vector<float>& v, const std::vector<int64_t>& shape,
                    const char* role) {
    if (const int64_t i = first_non_finite(v); i >= 0)
      throw WorkloadError(
          source, 0, layer,
          fmt::format("{} element {} is {}: expected finite values", role, index_str(shape, i),
                      non_finite_str(v[static_cast<size_t>(i)])));
  };
  finite(lw.weight.data, lw.weight.shape, "weight");
  const std::vector<int64_t> vec_shape{static_cast<int64_t>(lw.bias.size())};
  finite(lw.bias, vec_shape, "bias");
  if (!lw.bn) return;
  const BatchNormParams& bn = *lw.bn;
  const std::vector<int64_t> bn_shape{static_cast<int64_t>(bn.var.size())};
  finite(bn.gamma, bn_shape, "batch-norm weight (gamma)");
  finite(bn.beta, bn_shape, "batch-norm bias (beta)");
  finite(bn.mean, bn_shape, "batch-norm running_mean");
  finite(bn.var, bn_shape, "batch-norm running_var");
  if (!std::isfinite(bn.eps) || bn.eps < 0.0f)
    throw WorkloadError(source, 0, layer,
                        fmt::format("batch-norm epsilon {} is not a finite value >= 0", bn.eps));
  for (size_t c = 0; c < bn.var.size(); ++c) {
    // The folded scale is gamma / sqrt(var + eps): a negative sum has no square root.
    if (bn.var[c] < 0.0f || !(bn.var[c] + bn.eps > 0.0f))
      throw WorkloadError(source, 0, layer,
                          fmt::format("batch-norm running_var [{}] is {} (with eps {}): a "
                                      "variance must be >= 0 and var + eps > 0",
                                      c, bn.var[c], bn.eps));
  }
}

}  // namespace imcsim
