// The reference executor: a plain, obviously-correct evaluation of a workload graph, the
// oracle every simulated datapath is compared against (DESIGN.md "Numbers, not just
// timing"). It knows nothing of arrays, mappings or SystemC.
//
// Two modes:
//  - float: double-precision activations and accumulation, BatchNorm applied unfolded
//    (gamma * (x - mean) / sqrt(var + eps) + beta), exactly the network as trained.
//  - integer: weights quantized per output channel to `weight_bits` (symmetric,
//    q in [-(2^(b-1)-1), 2^(b-1)-1], scale = max|W_oc| / (2^(b-1)-1); or, when a channel's
//    weights already lie on the b-bit mid-rise grid s * {-(2^b-1), ..., -1, 1, ..., 2^b-1}
//    (odd multiples, as the shared 2-bit ResNet-20's four levels E * {-1, -1/3, 1/3, 1}),
//    that grid exactly: QuantizedLayer::odd_grid), activations as per-tensor affine codes
//    (ActQuant: x ~= scale * (code - zero_point), code in 0 .. 2^input_bits - 1), exact int64
//    accumulation (conv2d_int), and a requantization that applies weight
//    scale, input scale, bias and BatchNorm folded into a per-channel multiplier/shift, and
//    the activation.
//
// Which tensors are held as codes, and at what quantization (REFERENCE §13):
//  - every tensor an array layer (conv/fc) reads, and the network input, is quantized where
//    it is produced, so every consumer (array layer, residual add, pooling) reads the same
//    codes, as a chip's buffer holds them;
//  - its ActQuant is, in this order: IntOptions::calibration[tensor] (tensor = "input" or
//    the producing layer's name; calibrated on training images, `imcsim calibrate`); for
//    the network input IntOptions::input_scale with zero point 0 when > 0; the scale a
//    bounded activation fixes (relu1: 1/(2^a - 1), clip(lo >= 0, hi): hi/(2^a - 1), zero
//    point 0); a pooling layer without activation on a quantized input keeps its input's
//    quantization; otherwise the dynamic range of the tensor itself,
//    act_quant_for_range(min(x), max(x)) (asymmetric, so GELU's negative part and a
//    low-rank R factor's signed outputs are kept);
//  - values outside the codes are clamped and counted in IntRun::clamped.
// Array layers see centered codes, code - zero_point (IntLayerResult::input_codes), so the
// accumulator is sum q_w * (code - zp) and zero padding is a real zero; a chip drives the
// unsigned code, i.e. the centered code plus an offset of zero_point, and subtracts
// zero_point * (sum of the column's weights) digitally (the engine's input offset).
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
  T& at(int64_t ch, int64_t y, int64_t x) {
    return data[static_cast<size_t>((ch * h + y) * w + x)];
  }
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
  std::vector<int64_t> shape;  // OIHW (conv, I = in_channels / groups) or (O, I) (fc)
  // Quantized weights, C order of `shape`: |q| <= 2^31 - 1 at 32 bits (the odd grid is for
  // at most 16), so int32, the type the engine programs cells from (no copy per layer;
  // VGG-13 holds 133 M of them).
  std::vector<int32_t> q;
  std::vector<double> w_scale;  // per output channel: W[oc] ~= q[oc] * w_scale[oc]
  // Per output channel: the weights lie exactly on the mid-rise grid (q odd, |q| <= 2^b - 1,
  // 2^b levels); an array holds (q + 2^b - 1) / 2 in b bits (datapath.hpp).
  std::vector<uint8_t> odd_grid;
  // Bias and BatchNorm folded for mapping (per output channel):
  //   y = mul[oc] * z + shift[oc], z = the conv/fc output before bias,
  //   mul = gamma / sqrt(var + eps) (1 without BN), shift = (bias - mean) * mul + beta
  //   (= bias without BN).
  std::vector<double> mul, shift;
  int64_t out_channels() const { return shape.empty() ? 0 : shape[0]; }
};

// Per-output-channel quantization (see the file comment); weight_bits in 2..32.
QuantizedLayer quantize_layer(const Layer& layer, const LayerWeights& weights, int weight_bits);
// Every conv/fc layer of `net`, by layer name.
std::map<std::string, QuantizedLayer> quantize_weights(const Network& net, const WeightSet& weights,
                                                       int weight_bits);
// Weights that already are integers (ONNX ConvInteger after removing the zero point) taken
// as they are: q = weight, w_scale = 1. WorkloadError if a weight is not an integer.
QuantizedLayer exact_integer_layer(const Layer& layer, const LayerWeights& weights);

// The integer convolution: exact int64 accumulators (OC x O_h x O_w) of the codes `in` with
// q.q; zero padding, stride, dilation, groups. No bias, BN or activation. A double GEMM while
// every partial sum stays below 2^53 (then exact), the plain nested loop beyond.
IntTensor conv2d_int(const IntTensor& in, const Layer& layer, const QuantizedLayer& q);
// fc: acc[o] = sum_i q[o, i] * in_flat[i] (in flattened CHW), shape (out_features, 1, 1).
IntTensor fc_int(const IntTensor& in, const Layer& layer, const QuantizedLayer& q);
// conv2d_int or fc_int by layer type.
IntTensor accumulate_int(const Layer& layer, const IntTensor& in, const QuantizedLayer& q);

// Per-tensor affine activation quantization: x ~= scale * (code - zero_point), codes
// 0 .. 2^bits - 1 (zero_point 0 for a tensor that is never negative).
struct ActQuant {
  double scale = 0.0;
  int64_t zero_point = 0;
  bool operator==(const ActQuant& o) const {
    return scale == o.scale && zero_point == o.zero_point;
  }
};
// The quantization whose codes cover [lo, hi] widened to contain 0 (so a real zero, e.g.
// padding, is a code): scale = (hi' - lo') / (2^bits - 1), zero_point = round(-lo' / scale);
// an all-zero range gives scale 1 / (2^bits - 1), zero point 0. Non-finite bounds throw.
ActQuant act_quant_for_range(double lo, double hi, int bits);
// Centered codes clamp(round(x / scale) + zp, 0, 2^bits - 1) - zp (the value a conv sees).
IntTensor quantize_centered(const FloatTensor& x, const ActQuant& q, int bits,
                            int64_t* clamped = nullptr);
// Activation codes: round(x / scale) (half away from zero) clamped to [0, 2^bits - 1];
// `clamped` (optional) counts values that were outside (quantize_centered at zero point 0).
IntTensor quantize_activations(const FloatTensor& x, double scale, int bits,
                               int64_t* clamped = nullptr);
FloatTensor dequantize_activations(const IntTensor& codes, double scale);
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
  double input_scale = 0.0;  // > 0: the network input's scale (zero point 0), unless calibrated
  // Calibrated quantization by tensor name ("input" or the producing layer's name); tensors
  // not listed use the rules of the file comment.
  std::map<std::string, ActQuant> calibration;
};

// Replaces the accumulator computation of a conv/fc layer (the engine's simulated array
// datapath). `input_codes` are centered (code - zero_point); a chip drives them with an
// offset of `zero_point`. Must return the shape accumulate_int would.
using AccumulatorHook = std::function<IntTensor(const Layer& layer, const IntTensor& input_codes,
                                                const QuantizedLayer& q, int64_t zero_point)>;

struct IntLayerResult {
  FloatTensor value;       // the layer's output as the next layers read it
  bool quantized = false;  // output held as codes (read by an array layer, network input)
  ActQuant quant;          // quantization of `codes` when quantized
  IntTensor codes;         // the output's centered codes (code - zero_point) when quantized
  // conv/fc only:
  ActQuant input_quant;   // quantization of input_codes
  IntTensor input_codes;  // centered input codes fed to the arrays
  IntTensor acc;          // int64 accumulators (from the hook when one is given)
};

struct IntRun {
  IntOptions options;
  IntLayerResult input;                // the network input as codes
  std::vector<IntLayerResult> layers;  // one per network layer, in network order
  int64_t clamped = 0;                 // activation values that did not fit their codes
  const FloatTensor& output() const { return layers.back().value; }
};

// Loads the BLAS of the integer reference's exact GEMMs (one thread, no pool) now; a
// program calls it before it starts threads (it sets an environment variable for the
// load). Else the first GEMM loads it.
void load_blas();

IntRun run_int(const Network& net, const std::map<std::string, QuantizedLayer>& qweights,
               const FloatTensor& input, const IntOptions& options,
               const AccumulatorHook& hook = nullptr);
// Quantizes `weights` at options.weight_bits and runs.
IntRun run_int(const Network& net, const WeightSet& weights, const FloatTensor& input,
               const IntOptions& options, const AccumulatorHook& hook = nullptr);

// Activation function of a layer applied to one value (gelu: x * Phi(x), the exact erf form).
double apply_activation(const Layer& layer, double x);

// The tensors a calibration covers: "input" and every layer whose output an array layer reads
// (what `imcsim calibrate` calibrates). run_int also holds bounded activations and pooling of
// codes as codes, at the quantization their rule fixes.
std::vector<std::string> quantized_tensors(const Network& net);

}  // namespace imcsim::ref
