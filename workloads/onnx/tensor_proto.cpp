#include "workloads/onnx/tensor_proto.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "workloads/error.hpp"
#include "workloads/finite.hpp"
#include "workloads/input_file.hpp"
#include "workloads/onnx/proto_detail.hpp"

namespace imcsim::onnx_io {

namespace {

// raw_data and our memcpy decoding are little-endian (ONNX stores raw_data little-endian).
static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE float sizes expected");

int elem_size(int32_t type) {
  switch (type) {
    case kUint8:
    case kInt8:
    case kBool: return 1;
    case kUint16:
    case kInt16: return 2;
    case kFloat:
    case kInt32:
    case kUint32: return 4;
    case kInt64:
    case kDouble:
    case kUint64: return 8;
    default: return 0;
  }
}

template <typename T>
void decode_raw(const std::string& raw, std::vector<double>& out) {
  out.resize(raw.size() / sizeof(T));
  for (size_t i = 0; i < out.size(); ++i) {
    T v;
    std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));
    out[i] = static_cast<double>(v);
  }
}

template <typename T>
void encode_raw(const std::vector<double>& in, std::string& raw) {
  raw.resize(in.size() * sizeof(T));
  for (size_t i = 0; i < in.size(); ++i) {
    const T v = static_cast<T>(in[i]);
    std::memcpy(&raw[i * sizeof(T)], &v, sizeof(T));
  }
}

}  // namespace

const char* elem_type_name(int32_t type) {
  switch (type) {
    case kFloat: return "float32";
    case kUint8: return "uint8";
    case kInt8: return "int8";
    case kUint16: return "uint16";
    case kInt16: return "int16";
    case kInt32: return "int32";
    case kInt64: return "int64";
    case kBool: return "bool";
    case kDouble: return "float64";
    case kUint32: return "uint32";
    case kUint64: return "uint64";
    default: return "unsupported";
  }
}

int64_t ProtoTensor::size() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

ProtoTensor from_proto(const onnx::TensorProto& p, const std::string& file,
                       const std::string& what) {
  auto fail = [&](const std::string& msg) -> void { throw WorkloadError(file, 0, what, msg); };
  ProtoTensor t;
  t.name = p.name();
  t.data_type = p.data_type();
  if (p.data_location() == onnx::TensorProto::EXTERNAL || p.external_data_size() > 0)
    fail("tensor data is stored externally (external_data); expected the values inside the file");
  if (p.has_segment()) fail("segmented tensors are not supported");
  const int width = elem_size(t.data_type);
  if (width == 0)
    fail(
        fmt::format("element type {} is not supported (expected float32, float64, int8..64, "
                    "uint8..64 or bool)",
                    t.data_type));
  int64_t n = 1;
  for (int64_t d : p.dims()) {
    if (d < 0 || d > (int64_t{1} << 32)) fail(fmt::format("dimension {} is not a valid size", d));
    t.dims.push_back(d);
    if (d != 0 && n > (int64_t{1} << 34) / d) fail("tensor is too large");  // before multiplying
    n *= d;
  }
  if (p.has_raw_data()) {
    const std::string& raw = p.raw_data();
    const size_t want = static_cast<size_t>(n) * static_cast<size_t>(width);
    if (raw.size() != want)
      fail(fmt::format("raw_data holds {} bytes, dims {} of {} need {} (truncated or mismatched)",
                       raw.size(), fmt::join(t.dims, "x"), elem_type_name(t.data_type), want));
    switch (t.data_type) {
      case kFloat: decode_raw<float>(raw, t.values); break;
      case kDouble: decode_raw<double>(raw, t.values); break;
      case kUint8:
      case kBool: decode_raw<uint8_t>(raw, t.values); break;
      case kInt8: decode_raw<int8_t>(raw, t.values); break;
      case kUint16: decode_raw<uint16_t>(raw, t.values); break;
      case kInt16: decode_raw<int16_t>(raw, t.values); break;
      case kInt32: decode_raw<int32_t>(raw, t.values); break;
      case kUint32: decode_raw<uint32_t>(raw, t.values); break;
      case kInt64: decode_raw<int64_t>(raw, t.values); break;
      case kUint64: decode_raw<uint64_t>(raw, t.values); break;
      default: break;
    }
  } else {
    // Typed fields, as the ONNX spec assigns them per element type.
    switch (t.data_type) {
      case kFloat: t.values.assign(p.float_data().begin(), p.float_data().end()); break;
      case kDouble: t.values.assign(p.double_data().begin(), p.double_data().end()); break;
      case kInt64: t.values.assign(p.int64_data().begin(), p.int64_data().end()); break;
      case kUint32:
      case kUint64: t.values.assign(p.uint64_data().begin(), p.uint64_data().end()); break;
      default: t.values.assign(p.int32_data().begin(), p.int32_data().end()); break;
    }
    if (static_cast<int64_t>(t.values.size()) != n)
      fail(fmt::format("holds {} values, dims {} need {} (truncated or mismatched)",
                       t.values.size(), fmt::join(t.dims, "x"), n));
  }
  if (t.data_type == kFloat || t.data_type == kDouble) {
    if (const int64_t i = first_non_finite(t.values); i >= 0)
      fail(fmt::format("element {} is {}: expected finite values", index_str(t.dims, i),
                       non_finite_str(t.values[static_cast<size_t>(i)])));
  }
  if (t.data_type == kInt64 || t.data_type == kUint64) {
    for (double v : t.values)
      if (std::fabs(v) > 9007199254740992.0) fail("64-bit integer value beyond 2^53");
  }
  return t;
}

ProtoTensor parse_tensor_proto(const std::string& bytes, const std::string& file) {
  onnx::TensorProto p;
  if (!p.ParseFromString(bytes))
    throw WorkloadError(file, 0, "",
                        "not a valid ONNX TensorProto (.pb) file: protobuf parsing failed "
                        "(truncated or corrupt)");
  return from_proto(p, file, p.name().empty() ? "tensor" : p.name());
}

ProtoTensor read_tensor_proto(const std::string& path) {
  return parse_tensor_proto(read_input_file(path, InputKind::TensorProto, ErrorKind::Workload),
                            path);
}

std::string serialize_tensor_proto(const ProtoTensor& t) {
  onnx::TensorProto p;
  p.set_name(t.name);
  p.set_data_type(t.data_type);
  for (int64_t d : t.dims) p.add_dims(d);
  std::string raw;
  switch (t.data_type) {
    case kFloat: encode_raw<float>(t.values, raw); break;
    case kDouble: encode_raw<double>(t.values, raw); break;
    case kUint8: encode_raw<uint8_t>(t.values, raw); break;
    case kInt8: encode_raw<int8_t>(t.values, raw); break;
    case kInt16: encode_raw<int16_t>(t.values, raw); break;
    case kInt32: encode_raw<int32_t>(t.values, raw); break;
    case kInt64: encode_raw<int64_t>(t.values, raw); break;
    default:
      throw WorkloadError("", 0, t.name,
                          fmt::format("cannot write element type {}", elem_type_name(t.data_type)));
  }
  p.set_raw_data(raw);
  std::string out;
  // Deterministic serialization: same tensor => same bytes.
  p.SerializeToString(&out);
  return out;
}

void write_tensor_proto(const std::string& path, const ProtoTensor& t) {
  const std::string bytes = serialize_tensor_proto(t);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throw WorkloadError(path, 0, "", "cannot write the output tensor file");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw WorkloadError(path, 0, "", "cannot write the output tensor file");
  }
}

}  // namespace imcsim::onnx_io
