// A Network with its weights as an ONNX model (opset 13): conv (+ BatchNormalization where
// the layer keeps one unfolded) and its activation, fc as Flatten + Gemm, add, pooling —
// so a compressed network (mappers/compress/expand.hpp: R and L as two Conv nodes, grouped
// where needed) can be evaluated by other tools. import_onnx reads it back.
#pragma once

#include <string>

#include "workloads/network.hpp"
#include "workloads/weights.hpp"

namespace imcsim::onnx_io {

// The serialized ModelProto. WorkloadError naming the layer for what ONNX cannot say here
// (a BatchNorm after an fc layer).
std::string export_onnx(const Network& net, const WeightSet& weights);
// export_onnx written through a temporary file and a rename.
void write_onnx(const std::string& path, const Network& net, const WeightSet& weights);

}  // namespace imcsim::onnx_io
