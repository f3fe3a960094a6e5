// libFuzzer target: the .npy reader (header dictionary, dtype, shape, data length).
#include "tests/fuzz/fuzz_util.hpp"
#include "workloads/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes = imcsim::fuzz::as_text(data, size);
  imcsim::fuzz::expect_named_errors([&] {
    const auto array = imcsim::parse_npy(bytes, "fuzz.npy");
    (void)array.size();
  });
  return 0;
}
