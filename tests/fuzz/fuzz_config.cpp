// libFuzzer target: the experiment YAML loader (strict reader + validation, including the
// compression, engine and sweep sections and the architecture). Inputs are parsed as a file
// named fuzz.yaml in the seed folder's place; relative paths resolve against the working
// directory, so built-in workloads and configs/ presets load as in a real run.
#include "sim/config/config.hpp"
#include "sim/sweep/sweep.hpp"
#include "tests/fuzz/fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = imcsim::fuzz::as_text(data, size);
  imcsim::fuzz::expect_named_errors([&] {
    const auto root = imcsim::YamlNode::load_string(text, "fuzz.yaml", imcsim::ErrorKind::Config);
    if (root.is_map() && root.has("sweep")) {
      // The parser and the point expansion, up to 100,000 points: expanding millions of points
      // is bounded work, not a parser path (the caps are catalogue cases).
      const auto sweep = imcsim::parse_sweep(text, "fuzz.yaml", 100000);
      (void)sweep;
    } else {
      (void)imcsim::resolved_yaml(imcsim::parse_experiment(root));
    }
  });
  return 0;
}
