// ONNX models as imcsim workloads: the graph becomes a Network (layers, inferred shapes)
// and its initializers a WeightSet, the same types a workload YAML and .npy weights give,
// so mappers, compression and the reference executor see no difference.
//
// Supported operators (opset 7..17 semantics): Conv (strides, pads incl. asymmetric and
// auto_pad, dilations, group), BatchNormalization (inference; folded into the Conv/Gemm it
// follows, kept unfolded in LayerWeights::bn for the float reference), Relu, Clip and exact
// GELU (a Gelu node with approximate="none", or the Div(sqrt 2) -> Erf -> Add 1 -> Mul x ->
// Mul 0.5 pattern PyTorch exports below opset 20; fused into the layer before them), Add
// (two activations -> an add layer), Add/Sub/Mul/Div with a constant scalar or per-channel
// operand (folded into the conv/fc before it: bias, weights, or BN gamma/beta), MaxPool,
// AveragePool, GlobalAveragePool, Flatten (axis 1, a no-op on CHW data), Gemm / MatMul with a
// constant weight (fc), Constant, and ConvInteger as the single node of an integer model (evaluated
// exactly). Any other operator, or a supported one used in a way the Network cannot express, is a
// WorkloadError naming the node, its op type and the file. 1-D convolutions and pools ([N, C, L]
// inputs) become 2-D ones of height 1.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "workloads/network.hpp"
#include "workloads/onnx/tensor_proto.hpp"
#include "workloads/weights.hpp"

namespace imcsim::onnx_io {

struct ImportOptions {
  // Graph inputs bound to constant values (treated like initializers). ONNX node tests feed
  // weights as inputs (input_1.pb = W); binding them makes those graphs importable.
  std::map<std::string, ProtoTensor> constants;
};

struct OnnxModel {
  std::string file;
  Network net;        // net.source = file
  WeightSet weights;  // weights.source = file
  std::string input_name, output_name;
  int input_rank = 4;  // 2 ([N, F]), 3 ([N, C, L]) or 4 ([N, C, H, W])
  int output_rank = 4;
  int32_t input_type = kFloat;
  int32_t output_type = kFloat;
  // Integer model (one ConvInteger): input codes are x - input_zero_point, weights already
  // hold w - w_zero_point, the output is the exact int32 accumulator.
  bool integer = false;
  double input_zero_point = 0.0;
  int64_t opset = 0;
};

// The graph's inputs that are not initializers, in order (the first is the data input).
std::vector<std::string> graph_data_inputs(const std::string& path);

OnnxModel import_onnx(const std::string& path, const ImportOptions& options = {});

// The equivalent workload YAML (workloads/*.yaml format). WorkloadError naming the layer when
// the network uses geometry the YAML format cannot state (dilation, asymmetric padding,
// general clip bounds, avgpool without count_include_pad on a padded pool).
std::string workload_yaml(const Network& net, const std::string& description);

}  // namespace imcsim::onnx_io
