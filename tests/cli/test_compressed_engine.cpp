// The engine executes what the compression plan credits: for low-rank (the three L
// placements, idle as one pipelined job; both group axes) and pattern pruning (sdk and vwsdk
// searches) on ResNet-20 (trained weights) and WRN-16-4 (seeded weights), every compressed layer's
// engine computing cycles (R + L, or the row-skipped layer) equal the analytic plan, and at the
// lossless ADC bound the numerical output equals the integer reference of the compressed network
// exactly. One process per case (SystemC elaborates once per process).
#include <nlohmann/json.hpp>

#include "tests/cli/cli_test_util.hpp"

using imcsim::test::CliTest;
using imcsim::test::slurp;

namespace {

struct Case {
  std::string name, workload, compression;
  int cols = 128;  // physical columns (4 per 8-bit weight): kron needs an OC-wide block to fit
};

class CompressedEngine : public CliTest, public ::testing::WithParamInterface<Case> {};

std::string config(const Case& c, const std::string& out_name) {
  std::string weights = c.workload == "resnet20" ? std::string("  weights: ") + IMCSIM_SOURCE_DIR +
                                                       "/../shared/data/resnet20-cifar10\n"
                                                 : "";
  return "name: " + out_name + "\nworkload: " + c.workload +
         "\narch: {rows: 128, cols: " + std::to_string(c.cols) +
         ", cell_bits: 2, weight_bits: 8, input_bits: 8, dac_bits: 1, "
         "adc_bits: 9, adc_share: 8, arrays: 64, signed_encoding: offset}\n"
         "mappers: [sdk]\nmode: cycle\nseed: 1\nengine:\n  tech: rram-28nm-survey\n  functional: "
         "true\n" +
         weights + "compression:\n" + c.compression;
}

}  // namespace

TEST_P(CompressedEngine, EngineCyclesEqualThePlanAndValuesAreExact) {
  const Case& c = GetParam();
  std::ofstream(path("e.yaml")) << config(c, "c");
  const auto r = run("run " + path("e.yaml") + " -o " + path("out") + " -q");
  ASSERT_EQ(r.code, 0) << r.err;
  std::string dir;
  for (const auto& e : imcsim::test::fs::directory_iterator(path("out"))) dir = e.path().string();
  const auto s = nlohmann::json::parse(slurp(dir + "/summary.json"));
  int compressed = 0;
  for (const auto& e : s["compression"]["layers"]) {
    if (e["method"] == "dense") continue;
    EXPECT_EQ(e["engine_cycles"], e["analytic_cycles"]) << e["layer"];
    // The per-layer rows say the same: R ("<layer>.R") and L (the layer) each run their
    // plan's cycles (a fused pair: all of it on R's row, none on L's), summing to the plan.
    int64_t per_layer = 0;
    for (const auto& l : s["layers"]) {
      if (l["name"] != e["layer"] && l["name"] != e["layer"].get<std::string>() + ".R") continue;
      EXPECT_EQ(l["computing_cycles"], l["analytic_cycles"]) << l["name"];
      per_layer += l["analytic_cycles"].get<int64_t>();
    }
    EXPECT_EQ(per_layer, e["analytic_cycles"].get<int64_t>()) << e["layer"];
    ++compressed;
  }
  EXPECT_GT(compressed, 5);
  EXPECT_TRUE(s["compression"]["plan_executed"].get<bool>());
  EXPECT_TRUE(s["numerical"]["exact"].get<bool>());
}

INSTANTIATE_TEST_SUITE_P(
    Placements, CompressedEngine,
    ::testing::Values(
        Case{"resnet20_lowrank_kron", "resnet20",
             "  method: lowrank\n  rank: 4\n  mapper: sdk\n  l_placement: kron\n", 256},
        Case{"resnet20_lowrank_im2col_vwsdk", "resnet20",
             "  method: lowrank\n  rank: 4\n  mapper: vwsdk\n  l_placement: im2col\n"},
        Case{"resnet20_group_in_auto", "resnet20",
             "  method: group-lowrank\n  rank: 2\n  groups: 4\n  group_axis: in\n  mapper: sdk\n  "
             "l_placement: auto\n"},
        Case{"resnet20_group_out_kron", "resnet20",
             "  method: group-lowrank\n  rank: 2\n  groups: 4\n  group_axis: out\n  mapper: sdk\n  "
             "l_placement: kron\n",
             256},
        Case{"resnet20_group_in_im2col_vwsdk", "resnet20",
             "  method: group-lowrank\n  rank: 2\n  groups: 4\n  group_axis: in\n  mapper: vwsdk\n "
             " l_placement: im2col\n"},
        Case{"resnet20_prune_sdk", "resnet20",
             "  method: prune\n  patterns: pat6\n  mapper: sdk\n"},
        Case{"resnet20_prune_vwsdk", "resnet20",
             "  method: prune\n  patterns: pat4\n  mapper: vwsdk\n"},
        Case{"resnet20_lowrank_idle", "resnet20",
             "  method: lowrank\n  rank: 4\n  mapper: sdk\n  l_placement: idle\n", 256},
        Case{"resnet20_group_in_idle_vwsdk", "resnet20",
             "  method: group-lowrank\n  rank: 2\n  groups: 4\n  group_axis: in\n  mapper: vwsdk\n "
             " l_placement: idle\n",
             256},
        Case{"resnet20_group_out_idle", "resnet20",
             "  method: group-lowrank\n  rank: 2\n  groups: 4\n  group_axis: out\n  mapper: sdk\n  "
             "l_placement: idle\n",
             256},
        Case{"wrn16_4_lowrank_idle", "wrn16_4",
             "  method: lowrank\n  rank: 4\n  mapper: sdk\n  l_placement: idle\n", 1024},
        Case{"resnet20_group_in_kron", "resnet20",
             "  method: group-lowrank\n  rank: 2\n  groups: 4\n  group_axis: in\n  mapper: sdk\n  "
             "l_placement: kron\n",
             256},
        Case{"resnet20_group_out_im2col", "resnet20",
             "  method: group-lowrank\n  rank: 2\n  groups: 4\n  group_axis: out\n  mapper: sdk\n  "
             "l_placement: im2col\n"},
        Case{"wrn16_4_lowrank_kron", "wrn16_4",
             "  method: lowrank\n  rank: 4\n  mapper: sdk\n  l_placement: kron\n", 1024},
        Case{"wrn16_4_lowrank_im2col", "wrn16_4",
             "  method: lowrank\n  rank: 4\n  mapper: vwsdk\n  l_placement: im2col\n"},
        Case{"wrn16_4_group_in_im2col", "wrn16_4",
             "  method: group-lowrank\n  rank: 2\n  groups: 4\n  group_axis: in\n  mapper: sdk\n  "
             "l_placement: im2col\n"},
        Case{"wrn16_4_group_in_idle", "wrn16_4",
             "  method: group-lowrank\n  rank: 2\n  groups: 4\n  group_axis: in\n  mapper: sdk\n  "
             "l_placement: idle\n",
             1024},
        Case{"wrn16_4_group_out_kron", "wrn16_4",
             "  method: group-lowrank\n  rank: 2\n  groups: 4\n  group_axis: out\n  mapper: sdk\n  "
             "l_placement: kron\n",
             1024},
        Case{"wrn16_4_group_out_idle", "wrn16_4",
             "  method: group-lowrank\n  rank: 2\n  groups: 4\n  group_axis: out\n  mapper: sdk\n  "
             "l_placement: idle\n",
             1024},
        Case{"wrn16_4_lowrank_auto", "wrn16_4",
             "  method: lowrank\n  rank: 4\n  mapper: sdk\n  l_placement: auto\n"},
        Case{"wrn16_4_group_in_kron", "wrn16_4",
             "  method: group-lowrank\n  rank: 2\n  groups: 4\n  group_axis: in\n  mapper: sdk\n  "
             "l_placement: kron\n",
             1024},
        Case{"wrn16_4_group_out_im2col", "wrn16_4",
             "  method: group-lowrank\n  rank: 2\n  groups: 4\n  group_axis: out\n  mapper: "
             "vwsdk\n  l_placement: im2col\n"}),
    [](const ::testing::TestParamInfo<Case>& i) { return i.param.name; });
