// libFuzzer target: the calibration reader (load_calibration: keys, bits, per-tensor scale
// and zero point, tensors missing or unknown) against the one-conv network of
// tests/bad_inputs/data/tiny_conv.onnx, with and without an expected bit width.
#include <filesystem>
#include <fstream>

#include "tests/fuzz/fuzz_util.hpp"
#include "workloads/calibration.hpp"
#include "workloads/onnx/onnx_import.hpp"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const imcsim::Network net =
      imcsim::onnx_io::import_onnx(IMCSIM_SOURCE_DIR "/tests/bad_inputs/data/tiny_conv.onnx").net;
  static const imcsim::fuzz::Scratch scratch("calibration", ".yaml", false);
  const fs::path& file = scratch.path();
  {
    std::ofstream f(file, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  imcsim::fuzz::expect_named_errors(
      [&] { (void)imcsim::load_calibration(file.string(), net, size % 2 ? 6 : 0); });
  return 0;
}
