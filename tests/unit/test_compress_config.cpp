// The experiment `compression:` section: defaults, resolved.yaml round trip, and named
// errors (file, line, key, what was expected) for bad values.
#include <gtest/gtest.h>

#include "sim/config/config.hpp"
#include "sim/run/run.hpp"

using namespace imcsim;

namespace {

const std::string kHead = "workload: resnet20\narch: {rows: 128, cols: 128}\nmappers: [sdk]\n";

std::string error_of(const std::string& compression) {
  try {
    parse_experiment(YamlNode::load_string(kHead + compression, "e.yaml", ErrorKind::Config));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(CompressionConfig, BadValuesAreNamedErrors) {
  EXPECT_EQ(
      error_of("compression:\n  method: svd\n"),
      "e.yaml:5: compression.method: expected one of lowrank, group-lowrank or prune, got \"svd\"");
  EXPECT_EQ(error_of("compression:\n  method: lowrank\n  rank: 0\n"),
            "e.yaml:6: compression.rank: expected an integer in 1..1048576, got \"0\"");
  EXPECT_EQ(error_of("compression:\n  method: lowrank\n  rank: 4\n  energy: 0.9\n"),
            "e.yaml:7: compression.energy: give only one of rank, rank_ratio and energy");
  EXPECT_NE(error_of("compression:\n  method: lowrank\n  rank_ratio: 1.5\n")
                .find("e.yaml:6: compression.rank_ratio: expected a number in"),
            std::string::npos);
  EXPECT_EQ(error_of("compression:\n  method: lowrank\n  groups: 2\n"),
            "e.yaml:6: compression.groups: groups is a key of method group-lowrank");
  EXPECT_EQ(error_of("compression:\n  method: group-lowrank\n  group_axis: rows\n"),
            "e.yaml:6: compression.group_axis: expected one of in or out, got \"rows\"");
  EXPECT_NE(error_of("compression:\n  method: lowrank\n  rnak: 4\n")
                .find("e.yaml:6: compression.rnak: unknown key"),
            std::string::npos);
  EXPECT_EQ(error_of("compression:\n  method: prune\n  patterns: [\"110/110/000\", \"11/000\"]\n"),
            "e.yaml:6: compression.patterns[1]: expected a 3x3 0/1 mask with at least one 1 such "
            "as \"110/110/000\", got \"11/000\"");
  EXPECT_EQ(error_of("compression:\n  method: prune\n  patterns: pat5\n"),
            "e.yaml:6: compression.patterns: expected one of pat4, pat6 or pat8, got \"pat5\"");
  EXPECT_EQ(
      error_of("compression:\n  method: lowrank\n  layers:\n    layers.99.conv1: {rank: 2}\n"),
      "e.yaml:7: compression.layers.layers.99.conv1: no conv/fc layer \"layers.99.conv1\" in "
      "workload resnet20");
  EXPECT_NE(error_of("compression:\n  method: lowrank\n  layers:\n    layers.3.conv1: {rank: 2, "
                     "ranks: 3}\n")
                .find("compression.layers.layers.3.conv1.ranks: unknown key"),
            std::string::npos);
  EXPECT_EQ(error_of("compression:\n  method: lowrank\n  l_placement: diagonal\n"),
            "e.yaml:6: compression.l_placement: expected one of auto, idle, kron or im2col, got "
            "\"diagonal\"");
}

TEST(CompressionConfig, ResolvedYamlRoundTripsAndRunReportsCompression) {
  const ExperimentSpec e = parse_experiment(YamlNode::load_string(
      kHead +
          "compression:\n  method: group-lowrank\n  energy: 0.8\n  layers:\n    layers.3.conv1: "
          "{rank: 2, group_axis: out}\n",
      "e.yaml", ErrorKind::Config));
  ASSERT_TRUE(e.compression);
  EXPECT_EQ(e.compression->spec.groups, 2);
  EXPECT_TRUE(e.compression->spec.exclude_first);
  const std::string resolved = resolved_yaml(e);
  const ExperimentSpec again =
      parse_experiment(YamlNode::load_string(resolved, "r.yaml", ErrorKind::Config));
  EXPECT_EQ(resolved_yaml(again), resolved);

  const RunResult r = evaluate_analytic(e);
  const Json& c = r.summary["compression"];
  EXPECT_EQ(c["method"], "group-lowrank");
  EXPECT_EQ(r.mappings.back().mapper, "group-lowrank");
  int64_t sum = 0;
  for (const auto& l : c["layers"]) {
    sum += l["cycles"].get<int64_t>();
    if (l["layer"] == "layers.3.conv1") {
      EXPECT_EQ(l["ranks"], Json::parse("[2, 2]"));
      EXPECT_EQ(l["group_axis"], "out");
    }
    if (l.contains("theorem1")) {
      EXPECT_TRUE(l["theorem1"]["holds"].get<bool>()) << l["layer"];
    }
  }
  EXPECT_EQ(sum, c["cycles"].get<int64_t>());
  EXPECT_EQ(sum, r.mappings.back().total_cycles());
}
