// The reference executor: a plain, obviously-correct evaluation of a workload graph, the
// oracle every simulated datapath is compared against (DESIGN.md "Numbers, not just
// timing"). It knows nothing of arrays, mappings or SystemC.
//
// Two modes:
//  - float: double-precision activations and accumulation, BatchNorm applied unfolded
//    (gamma * (x - mean) / sqrt(var + eps) + beta), exactly the network as trained.
//  - integer: weights quantized symmetric per output channel to `weight_bits`
//    (q in [-(2^(b-1)-1), 2^(b-1)-1], scale = max|W_oc| / (2^(b-1)-1)), array-layer inputs
//    as unsigned `input_bits` codes with a stated per-tensor scale, int64 accumulation in a
//    nested-loop convolution, and a requantization that applies weight scale, input scale,
//    bias and BatchNorm folded into a per-channel multiplier/shift, and the activation.
//
// Activation scales in integer mode (the "stated scale"):
//  - network input: IntOptions::input_scale, default 1 / (2^input_bits - 1) (inputs in [0, 1]);
//  - output of a layer with relu1 (clip(0,1)): 1 / (2^a - 1); with clip(lo >= 0, hi):
//    hi / (2^a - 1). These tensors are quantized where they are produced, so every consumer
//    (array layer, residual add, pooling) reads the same codes, as a chip's buffer holds them;
//  - pooling output: the scale of its input (max/avg of codes stay in the input's range);
//  - the output of a conv/fc/add without activation feeding a conv/fc (e.g. the R factor of a
//    low-rank layer feeding its L factor) can be negative: signed codes in
//    +-(2^(a-1) - 1), symmetric scale max|x| / (2^(a-1) - 1) (input_is_signed());
//  - any other tensor feeding a conv/fc (relu): dynamic per-tensor max, max(x) / (2^a - 1),
//    computed on the tensor itself. Negative values cannot be held by unsigned codes: they
//    are clamped to 0 and counted in IntRun::clamped.
// Digital units (add, pooling, requantization) compute in double between array layers.
//
// Tensors are one image, CHW order. An fc layer reads its input flattened in CHW order (as
// ONNX Flatten / PyTorch .view on NCHW), so an fc weight is (out_features, c*h*w) in C order.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "workloads/network.hpp"
#include "workloads/weights.hpp"

namespace imcsim::ref {

template <typename T>
struct ChwTensor {
  int64_t c = 0, h = 0, w = 0;
  std::vector<T> data;  // data[(ch * h + y) * w + x]

  ChwTensor() = default;
  ChwTensor(int64_t channels, int64_t height, int64_t width)
      : c(channels), h(height), w(width), data(static_cast<size_t>(channels * height * width)) {}
  int64_t size() const { return c * h * w; }
  T& at(int64_t ch, int64_t y, int64_t x) { return data[static_cast<size_t>((ch * h + y) * w + x)]; }
  const T& at(int64_t ch, int64_t y, int64_t x) const {
    return data[static_cast<size_t>((ch * h + y) * w + x)];
  }
};
using FloatTensor = ChwTensor<double>;
using IntTensor = ChwTensor<int64_t>;  // activation codes or accumulators

// ---- float mode -------------------------------------------------------------------------

// One layer on its inputs (one tensor per name in layer.inputs, same order).
FloatTensor run_layer_float(const Layer& layer, const std::vector<const FloatTensor*>& inputs,
                            const LayerWeights* weights);
// Conv without bias/BN/activation: im2col + Eigen GEMM (double), per group. Zero padding,
// stride, dilation, groups, asymmetric padding.
FloatTensor conv2d_float(const FloatTensor& in, const Layer& layer, const Tensor& weight);

struct FloatRun {
  std::vector<FloatTensor> outputs;  // one per network layer, in network order
  const FloatTensor& output() const { return outputs.back(); }  // the network output (last layer)
};
FloatRun run_float(const Network& net, const WeightSet& weights, const FloatTensor& input);

// ---- integer mode -----------------------------------------------------------------------

// A conv/fc layer's weights as the arrays hold them.
struct QuantizedLayer {
  std::string layer;
  int weight_bits = 8;
  std::vector<int64_t> shape;   // OIHW (conv, I = in_channels / groups) or (O, I) (fc)
  std::vector<int64_t> q;       // quantized weights, C order of `shape`
  std::vector<double> w_scale;  // per output channel: W[oc] ~= q[oc] * w_scale[oc]
  // Bias and BatchNorm folded for mapping (per output channel):
  //   y = mul[oc] * z + shift[oc], z = the conv/fc output before bias,
  //   mul = gamma / sqrt(var + eps) (1 without BN), shift = (bias - mean) * mul + beta
  //   (= bias without BN).
  std::vector<double> mul, shift;
  int64_t out_channels() const { return shape.empty() ? 0 : shape[0]; }
};

// Symmetric per-output-channel quantization (see the file comment); weight_bits in 2..32.
QuantizedLayer quantize_layer(const Layer& layer, const LayerWeights& weights, int weight_bits);
// Every conv/fc layer of `net`, by layer name.
std::map<std::string, QuantizedLayer> quantize_weights(const Network& net, const WeightSet& weights,
                                                       int weight_bits);
// Weights that already are integers (ONNX ConvInteger after removing the zero point) taken
// as they are: q = weight, w_scale = 1. WorkloadError if a weight is not an integer.
QuantizedLayer exact_integer_layer(const Layer& layer, const LayerWeights& weights);

// The plain nested-loop integer convolution: int64 accumulators (OC x O_h x O_w) of the
// codes `in` with q.q; zero padding, stride, dilation, groups. No bias, BN or activation.
IntTensor conv2d_int(const IntTensor& in, const Layer& layer, const QuantizedLayer& q);
// fc: acc[o] = sum_i q[o, i] * in_flat[i] (in flattened CHW), shape (out_features, 1, 1).
IntTensor fc_int(const IntTensor& in, const Layer& layer, const QuantizedLayer& q);
// conv2d_int or fc_int by layer type.
IntTensor accumulate_int(const Layer& layer, const IntTensor& in, const QuantizedLayer& q);

// Activation codes: round(x / scale) (half away from zero) clamped to [0, 2^bits - 1];
// `clamped` (optional) counts values that were outside.
IntTensor quantize_activations(const FloatTensor& x, double scale, int bits,
                               int64_t* clamped = nullptr);
FloatTensor dequantize_activations(const IntTensor& codes, double scale);
// Signed codes: round(x / scale) clamped to +-(2^(bits-1) - 1).
IntTensor quantize_activations_signed(const FloatTensor& x, double scale, int bits,
                                      int64_t* clamped = nullptr);
// Whether the conv/fc `layer` of `net` reads signed codes (its input is the output of a
// conv, fc or add without activation); the engine drives such inputs with an offset.
bool input_is_signed(const Network& net, const Layer& layer);
// Accumulators -> the layer's output value: acc * in_scale * w_scale[oc], then mul/shift
// (bias, BN), then the layer's activation.
FloatTensor dequantize_accumulators(const IntTensor& acc, const Layer& layer,
                                    const QuantizedLayer& q, double in_scale);
// Accumulators -> the next layer's unsigned `bits` codes at `out_scale`
// (quantize_activations of dequantize_accumulators).
IntTensor requantize(const IntTensor& acc, const Layer& layer, const QuantizedLayer& q,
                     double in_scale, double out_scale, int bits, int64_t* clamped = nullptr);
// The scale a bounded activation fixes for its output (relu1: 1/(2^bits-1); clip(lo>=0, hi):
// hi/(2^bits-1)); 0 when the activation does not bound the output.
double bounded_activation_scale(const Layer& layer, int bits);

struct IntOptions {
  int weight_bits = 8;
  int input_bits = 8;
  double input_scale = 0.0;  // 0: 1 / (2^input_bits - 1)
};

// Replaces the accumulator computation of a conv/fc layer (the engine's simulated array
// datapath). Must return the shape accumulate_int would.
using AccumulatorHook =
    std::function<IntTensor(const Layer& layer, const IntTensor& input_codes, const QuantizedLayer& q)>;

struct IntLayerResult {
  FloatTensor value;        // the layer's output as the next layers read it
  bool quantized = false;   // output held as codes (bounded activation, network input)
  double scale = 0.0;       // scale of `codes` when quantized
  IntTensor codes;          // the output codes when quantized
  // conv/fc only:
  double input_scale = 0.0;  // scale of input_codes
  IntTensor input_codes;     // unsigned input_bits codes fed to the arrays
  IntTensor acc;             // int64 accumulators (from the hook when one is given)
};

struct IntRun {
  IntOptions options;
  std::vector<IntLayerResult> layers;  // one per network layer, in network order
  int64_t clamped = 0;                 // activation values that did not fit their codes
  const FloatTensor& output() const { return layers.back().value; }
};

IntRun run_int(const Network& net, const std::map<std::string, QuantizedLayer>& qweights,
               const FloatTensor& input, const IntOptions& options,
               const AccumulatorHook& hook = nullptr);
// Quantizes `weights` at options.weight_bits and runs.
IntRun run_int(const Network& net, const WeightSet& weights, const FloatTensor& input,
               const IntOptions& options, const AccumulatorHook& hook = nullptr);

// Activation function of a layer applied to one value.
double apply_activation(const Layer& layer, double x);

}  // namespace imcsim::ref
