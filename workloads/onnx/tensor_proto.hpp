// ONNX TensorProto files (*.pb): the inputs and expected outputs of the ONNX backend test
// layout (test_data_set_N/input_K.pb, output_K.pb) and what `imcsim infer` writes.
// Values are held as double, which represents every supported element type exactly
// (64-bit integers only up to 2^53, checked).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace imcsim::onnx_io {

// Element types, numbered as onnx::TensorProto::DataType.
enum ElemType : int32_t {
  kFloat = 1,
  kUint8 = 2,
  kInt8 = 3,
  kUint16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kBool = 9,
  kDouble = 11,
  kUint32 = 12,
  kUint64 = 13
};
const char* elem_type_name(int32_t type);

struct ProtoTensor {
  std::string name;
  int32_t data_type = kFloat;
  std::vector<int64_t> dims;
  std::vector<double> values;  // C order
  int64_t size() const;        // product of dims (1 for a scalar)
};

// Parses a serialized TensorProto; `file` names it in errors. External data, unsupported
// element types, truncated data or a value count that does not match the dims are a
// WorkloadError naming the file, the tensor and what was expected.
ProtoTensor parse_tensor_proto(const std::string& bytes, const std::string& file);
ProtoTensor read_tensor_proto(const std::string& path);
// Serializes with raw_data (little-endian) in `data_type` (float, double, int8/16/32/64,
// uint8); values are converted (rounded to float for kFloat).
std::string serialize_tensor_proto(const ProtoTensor& t);
// Writes through a temporary file and a rename: no half-written output.
void write_tensor_proto(const std::string& path, const ProtoTensor& t);

}  // namespace imcsim::onnx_io
