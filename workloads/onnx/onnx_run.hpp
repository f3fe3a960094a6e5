// Running the reference executor (workloads/reference.hpp) on ONNX TensorProto inputs:
// what `imcsim infer` and the ONNX conformance tests do. The batch dimension is run one
// image at a time.
#pragma once

#include <string>

#include "workloads/onnx/onnx_import.hpp"
#include "workloads/reference.hpp"

namespace imcsim::onnx_io {

enum class InferMode { Float, Int };

struct InferOptions {
  InferMode mode = InferMode::Float;
  ref::IntOptions int_options;  // integer mode only
};

// `input` is [N, C, H, W] (input_rank 4), [N, C, L] (3) or [N, F] (2) matching net.input;
// `input_file` names it in errors. The result is the last layer's output of every image,
// float32, in `output_rank` layout ([N, C, H, W], [N, C, L] or [N, features]).
ProtoTensor infer_network(const Network& net, const WeightSet& weights, const ProtoTensor& input,
                          const std::string& input_file, int input_rank, int output_rank,
                          const InferOptions& options);

// An imported model: as infer_network, except that an integer model (ConvInteger) is
// evaluated exactly (ref::conv2d_int on x - x_zero_point) into int32.
ProtoTensor infer_model(const OnnxModel& model, const ProtoTensor& input,
                        const std::string& input_file, const InferOptions& options);

}  // namespace imcsim::onnx_io
