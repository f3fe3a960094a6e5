#include "workloads/network.hpp"

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

}  // namespace imcsim
