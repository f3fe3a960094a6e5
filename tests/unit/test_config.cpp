// Configuration tests: the strict YAML layer and the architecture/experiment validation.
#include <gtest/gtest.h>

#include "sim/config/config.hpp"

using namespace imcsim;

namespace {

std::string arch_error(const std::string& yaml) {
  try {
    parse_arch(YamlNode::load_string(yaml, "a.yaml", ErrorKind::Config));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(Arch, DefaultsComeFromTheParameterTable) {
  const ArchSpec a =
      parse_arch(YamlNode::load_string("rows: 128\ncols: 256\n", "a.yaml", ErrorKind::Config));
  EXPECT_EQ(a.rows, 128);
  EXPECT_EQ(a.cols, 256);
  for (const auto& p : arch_params()) {
    if (p.field && !p.default_value.empty()) {
      EXPECT_EQ(a.*p.field, std::stoll(p.default_value)) << p.key;
    }
    EXPECT_FALSE(p.source.empty()) << p.key << " needs the source of its default";
  }
  EXPECT_EQ(a.signed_encoding, "offset");
  EXPECT_EQ(a.geometry().cols_per_weight, 4);  // 8-bit weights on 2-bit cells
  EXPECT_EQ(a.input_phases(), 8);
}

TEST(Arch, LosslessAdcBits) {
  // 128 rows x (2^2 - 1) x (2^1 - 1) = 384 -> 9 bits (REFERENCE §10).
  const ArchSpec a =
      parse_arch(YamlNode::load_string("rows: 128\ncols: 128\n", "a.yaml", ErrorKind::Config));
  EXPECT_EQ(a.lossless_adc_bits(), 9);
}

TEST(Arch, ErrorsNameFileLineKeyAndExpectation) {
  EXPECT_EQ(arch_error("rows: 128\ncols: 128\nadc_bits: eight\n"),
            "a.yaml:3: adc_bits: expected an integer in 1..16, got \"eight\"");
  EXPECT_EQ(arch_error("rows: 128\ncols: 128\nadc_bits: 17\n"),
            "a.yaml:3: adc_bits: expected an integer in 1..16, got \"17\"");
  EXPECT_EQ(arch_error("rows: 128\ncols: 128\nadc_bits: \"8\"\n"),
            "a.yaml:3: adc_bits: expected an integer in 1..16, got \"8\"");
  EXPECT_EQ(arch_error("rows: 128\ncols: 128\nadc_bits: 8.5\n"),
            "a.yaml:3: adc_bits: expected an integer in 1..16, got \"8.5\"");
  EXPECT_EQ(arch_error("rows: 128\n"), "a.yaml:1: cols: missing required key");
  EXPECT_NE(arch_error("rows: 128\ncols: 128\nadc_bitz: 8\n")
                .find("a.yaml:3: adc_bitz: unknown key (expected one of: name, rows, cols"),
            std::string::npos);
  EXPECT_EQ(arch_error("rows: 128\ncols: 128\nsigned_encoding: twos\n"),
            "a.yaml:3: signed_encoding: expected one of offset or differential, got \"twos\"");
  EXPECT_EQ(arch_error("rows: 128\ncols: [1, 2]\n"),
            "a.yaml:2: cols: expected an integer in 1..65536, got a list");
  EXPECT_EQ(arch_error("rows: 128\ncols: 128\nrows: 64\n"), "a.yaml:3: rows: duplicate key");
}

TEST(Arch, ImpossibleArchitectures) {
  EXPECT_NE(arch_error("rows: 128\ncols: 3\nweight_bits: 8\ncell_bits: 2\n")
                .find("a.yaml:2: cols: array of 3 columns cannot hold one weight"),
            std::string::npos);
  EXPECT_NE(arch_error("rows: 128\ncols: 128\ndac_bits: 4\ninput_bits: 2\n")
                .find("a.yaml:3: dac_bits: expected at most input_bits (2)"),
            std::string::npos);
  EXPECT_NE(arch_error("rows: 128\ncols: 64\nadc_share: 128\n").find("a.yaml:3: adc_share"),
            std::string::npos);
}

TEST(Yaml, SyntaxErrorNamesTheLine) {
  try {
    YamlNode::load_string("a: 1\nb: [1, 2\nc: 3\n", "s.yaml", ErrorKind::Config);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), "s.yaml");
    EXPECT_GE(e.line(), 2);
    EXPECT_NE(std::string(e.what()).find("YAML syntax error"), std::string::npos);
  }
}

TEST(Experiment, ResolvedYamlRoundTrips) {
  const std::string dir = IMCSIM_SOURCE_DIR;
  const ExperimentSpec e = load_experiment_file(dir + "/configs/experiments/default.yaml");
  EXPECT_EQ(e.workload, "resnet20");
  EXPECT_EQ(e.arch.rows, 128);
  const std::string text = resolved_yaml(e);
  // Reading the resolved copy back gives the same spec, and the same text again.
  const ExperimentSpec again = parse_experiment(
      YamlNode::load_string(text, dir + "/configs/experiments/resolved.yaml", ErrorKind::Config));
  EXPECT_EQ(resolved_yaml(again), text);
  EXPECT_EQ(again.mappers, e.mappers);
}
