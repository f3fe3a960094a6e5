#include "workloads/network.hpp"

#include <fmt/format.h>

#include <initializer_list>
#include <string>

#include "workloads/error.hpp"

namespace imcsim {

const char* to_string(LayerType t) {
  switch (t) {
    case LayerType::Conv: return "conv";
    case LayerType::Fc: return "fc";
    case LayerType::Add: return "add";
    case LayerType::MaxPool: return "maxpool";
    case LayerType::AvgPool: return "avgpool";
    case LayerType::GlobalAvgPool: return "global_avgpool";
  }
  return "?";
}

const char* to_string(Activation a) {
  switch (a) {
    case Activation::None: return "none";
    case Activation::Relu: return "relu";
    case Activation::Relu1: return "relu1";
    case Activation::Clip: return "clip";
    case Activation::Gelu: return "gelu";
  }
  return "?";
}

int64_t Layer::weight_count() const {
  if (type == LayerType::Conv) return out.c * (in.c / groups) * k_h * k_w;
  if (type == LayerType::Fc) return out.c * in_features();
  return 0;
}

int64_t Layer::macs() const {
  if (type == LayerType::Conv) return out.h * out.w * out.c * (in.c / groups) * k_h * k_w;
  if (type == LayerType::Fc) return weight_count();
  return 0;
}

const Layer* Network::find(const std::string& layer_name) const {
  for (const auto& l : layers)
    if (l.name == layer_name) return &l;
  return nullptr;
}

int64_t Network::parameter_count() const {
  int64_t n = 0;
  for (const auto& l : layers) {
    n += l.weight_count();
    if (l.on_arrays() && l.bias) n += l.out.c;
    if (l.batch_norm) n += 2 * l.out.c;
  }
  return n;
}

int64_t Network::total_macs() const {
  int64_t n = 0;
  for (const auto& l : layers) n += l.macs();
  return n;
}

namespace {

// The product of `factors`, or -1 when it exceeds `limit` (checked before it could wrap).
int64_t bounded_product(std::initializer_list<int64_t> factors, int64_t limit) {
  int64_t n = 1;
  for (int64_t f : factors) {
    if (f < 0) return -1;
    if (__builtin_mul_overflow(n, f, &n) || n > limit) return -1;
  }
  return n;
}

}  // namespace

void check_network_counts(const Network& net) {
  auto fail = [&](const Layer* l, const std::string& what, int64_t limit) {
    throw WorkloadError(net.source, l ? l->source_line : 0, l ? l->name : "input",
                        fmt::format("{} is above imcsim's limit of {} (2^{}): a larger count "
                                    "could not be simulated or would overflow",
                                    what, limit, limit == kMaxMacs ? 50 : 40));
  };
  auto elements = [&](const Layer* l, const TensorShape& s, const char* which) {
    if (bounded_product({s.h, s.w, s.c}, kMaxTensorElements) < 0)
      fail(l, fmt::format("the element count of the {} tensor {}x{}x{}", which, s.h, s.w, s.c),
           kMaxTensorElements);
  };
  elements(nullptr, net.input, "input");
  int64_t total = 0;
  for (const auto& l : net.layers) {
    elements(&l, l.in, "input");
    elements(&l, l.out, "output");
    if (l.type != LayerType::Conv && l.type != LayerType::Fc) continue;
    const int64_t per_group = l.groups > 0 ? l.in.c / l.groups : l.in.c;
    const int64_t fan_in = l.type == LayerType::Conv
                               ? bounded_product({per_group, l.k_h, l.k_w}, kMaxTensorElements)
                               : bounded_product({l.in.h, l.in.w, l.in.c}, kMaxTensorElements);
    if (fan_in < 0 || bounded_product({l.out.c, fan_in}, kMaxTensorElements) < 0)
      fail(&l, "the weight tensor's element count", kMaxTensorElements);
    const int64_t macs = l.type == LayerType::Conv
                             ? bounded_product({l.out.h, l.out.w, l.out.c, fan_in}, kMaxMacs)
                             : bounded_product({l.out.c, fan_in}, kMaxMacs);
    if (macs < 0) fail(&l, "the layer's multiply-accumulate count", kMaxMacs);
    if (__builtin_add_overflow(total, macs, &total) || total > kMaxMacs)
      fail(&l, "the network's multiply-accumulate count up to this layer", kMaxMacs);
  }
}

}  // namespace imcsim
