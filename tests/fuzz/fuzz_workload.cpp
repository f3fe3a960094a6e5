// libFuzzer target: the workload YAML loader (layers, inputs, shape inference and checks).
#include "tests/fuzz/fuzz_util.hpp"
#include "workloads/loader.hpp"
#include "workloads/yaml_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = imcsim::fuzz::as_text(data, size);
  imcsim::fuzz::expect_named_errors([&] {
    const auto root = imcsim::YamlNode::load_string(text, "fuzz.yaml", imcsim::ErrorKind::Workload);
    (void)imcsim::parse_workload(root);
  });
  return 0;
}
