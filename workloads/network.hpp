// The Network / Layer types: a CNN as an ordered list of layers with shapes
// inferred from the input (DESIGN.md "Data flow": workload.yaml -> Network).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace imcsim {

enum class LayerType { Conv, Fc, Add, MaxPool, AvgPool, GlobalAvgPool };
// relu1 = clip(x, 0, 1); clip: clip_lo..clip_hi; gelu = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)),
// the exact (erf) form, signed (minimum about -0.17) and unbounded above.
enum class Activation { None, Relu, Relu1, Clip, Gelu };

const char* to_string(LayerType t);
const char* to_string(Activation a);

// Activation tensor shape, channels-last naming (h x w x c).
struct TensorShape {
  int64_t h = 0, w = 0, c = 0;
  int64_t elements() const { return h * w * c; }
  bool operator==(const TensorShape& o) const { return h == o.h && w == o.w && c == o.c; }
};

struct Layer {
  std::string name;
  LayerType type = LayerType::Conv;
  std::vector<std::string> inputs;  // producing layers; "input" is the network input
  TensorShape in;                   // shape of the first input
  TensorShape out;
  // Conv / pooling geometry (1 / 0 for the others).
  int64_t k_h = 1, k_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;  // symmetric padding per side
  int64_t groups = 1;
  // Imported (ONNX) geometry beyond the YAML workloads; the defaults keep the layer as above.
  int64_t dilation_h = 1, dilation_w = 1;  // conv only; the analytic mappers assume 1
  int64_t pad_h_end = -1, pad_w_end = -1;  // bottom/right padding, -1 = same as pad_h/pad_w
  bool count_include_pad = true;           // avgpool divisor counts padded zeros (PyTorch default)
  double clip_lo = 0.0, clip_hi = 1.0;     // bounds of Activation::Clip
  bool bias = false;
  bool batch_norm = false;  // a BatchNorm follows the conv (folded for mapping)
  Activation act = Activation::None;
  int source_line = 0;  // line in the workload file, for error messages

  int64_t pad_bottom() const { return pad_h_end < 0 ? pad_h : pad_h_end; }
  int64_t pad_right() const { return pad_w_end < 0 ? pad_w : pad_w_end; }
  // Layers whose weights sit on crossbar arrays (conv, fc); the rest run on digital units.
  bool on_arrays() const { return type == LayerType::Conv || type == LayerType::Fc; }
  int64_t in_features() const { return in.elements(); }  // fc input length
  int64_t weight_count() const;                          // conv/fc weights (no bias)
  int64_t macs() const;                                  // multiply-accumulates per inference
};

struct Network {
  std::string name;
  std::string source;  // file it was loaded from
  TensorShape input;
  std::vector<Layer> layers;

  const Layer* find(const std::string& name) const;
  // Trainable parameters as frameworks count them: weights + bias + BN scale/shift.
  int64_t parameter_count() const;
  int64_t total_macs() const;
};

// Bounds on the counts of a network, so that no count (and no product a mapper or the
// engine forms from one with a few more factors of bits, tiles or cycles) can wrap: every
// tensor and every weight tensor at most kMaxTensorElements elements, the MACs of each layer
// and of the whole network at most kMaxMacs (2^50, about 2.5e5 times ResNet-50).
constexpr int64_t kMaxTensorElements = int64_t{1} << 40;
constexpr int64_t kMaxMacs = int64_t{1} << 50;
// Checks those bounds with overflow-checked arithmetic; a WorkloadError naming the file
// (net.source), the layer's line and name, the count and the limit otherwise.
void check_network_counts(const Network& net);

}  // namespace imcsim
