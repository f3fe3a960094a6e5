// Internal to imcsim_onnx: conversion of libonnx's protobuf TensorProto.
#pragma once

#include <onnx/onnx_pb.h>

#include "workloads/onnx/tensor_proto.hpp"

namespace imcsim::onnx_io {

// `file` and `what` ("initializer conv1.weight") name the tensor in errors.
ProtoTensor from_proto(const onnx::TensorProto& p, const std::string& file,
                       const std::string& what);

}  // namespace imcsim::onnx_io
