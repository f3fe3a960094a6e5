// libFuzzer target: the ONNX importer (protobuf parse, graph walk, operator checks, shape
// inference) and, on the same bytes, the TensorProto reader. import_onnx reads a file, so
// each input is written to one scratch file per process first (removed when the run ends).
#include <fstream>

#include "tests/fuzz/fuzz_util.hpp"
#include "workloads/onnx/onnx_import.hpp"
#include "workloads/onnx/tensor_proto.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const imcsim::fuzz::Scratch scratch("onnx", ".onnx", false);
  const std::string path = scratch.path().string();
  const std::string bytes = imcsim::fuzz::as_text(data, size);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  imcsim::fuzz::expect_named_errors([&] { (void)imcsim::onnx_io::import_onnx(path); });
  imcsim::fuzz::expect_named_errors(
      [&] { (void)imcsim::onnx_io::parse_tensor_proto(bytes, "fuzz.pb"); });
  return 0;
}
