// End-to-end tests of the imcsim binary: the CLI contract of `imcsim map`, the run
// folder of `imcsim run`, determinism. The bad-configuration catalogue (tests/bad_configs)
// runs under the bad-input harness, tests/cli/test_bad_inputs.cpp.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli_test_util.hpp"

namespace fs = std::filesystem;

using imcsim::test::slurp;
using Result = imcsim::test::CliResult;
using Cli = imcsim::test::CliTest;

TEST_F(Cli, MapCsvHeaderIsTheContract) {
  const Result r =
      run("map --layer I=224,K=3,IC=3,OC=64 --array 512x512 --mapper all "
          "--convention vwsdk --format csv");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string want =
      "layer,I_h,I_w,K_h,K_w,IC,OC,mapper,cycles,pw_h,pw_w,ic_tile,oc_tile,utilization,";
  EXPECT_EQ(r.out.substr(0, want.size()), want);
  // One row per mapper plus a TOTAL row per mapper.
  for (const char* m : {"im2col", "sdk", "vwsdk", "auto"}) {
    EXPECT_NE(r.out.find(std::string("L0,224,224,3,3,3,64,") + m + ","), std::string::npos) << m;
    EXPECT_NE(r.out.find(std::string("TOTAL,,,,,,,") + m + ","), std::string::npos) << m;
  }
  EXPECT_NE(r.out.find("L0,224,224,3,3,3,64,vwsdk,6216,3,10,3,64,"), std::string::npos) << r.out;
}

TEST_F(Cli, MapWorkloadTotalsEqualTheSumOfLayers) {
  const Result r = run("map --workload resnet20 --array 128x128 --mapper vwsdk --format csv");
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream in(r.out);
  std::string line;
  std::getline(in, line);  // header
  long sum = 0, total = -1, rows = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ls(line);
    for (std::string c; std::getline(ls, c, ',');) f.push_back(c);
    if (f[0] == "TOTAL") {
      total = std::stol(f[8]);
    } else {
      sum += std::stol(f[8]);
      ++rows;
    }
  }
  EXPECT_EQ(rows, 22);  // 19 convs + 2 shortcuts + fc
  EXPECT_EQ(total, sum);
}

TEST_F(Cli, MapBitSlicingUsesEffectiveColumns) {
  const Result ideal =
      run("map --layer I=32,K=3,IC=16,OC=64 --array 128x128 --mapper im2col "
          "--format csv");
  const Result sliced =
      run("map --layer I=32,K=3,IC=16,OC=64 --array 128x128 --mapper im2col "
          "--format csv --weight-bits 8 --cell-bits 2");
  ASSERT_EQ(ideal.code, 0);
  ASSERT_EQ(sliced.code, 0) << sliced.err;
  // 144 rows -> 2 row tiles; 64 weights need 1 tile of 128 columns, or 2 tiles of 32.
  EXPECT_NE(ideal.out.find(",im2col,1800,"), std::string::npos) << ideal.out;
  EXPECT_NE(sliced.out.find(",im2col,3600,"), std::string::npos) << sliced.out;
}

TEST_F(Cli, MapJsonAndTable) {
  const Result j = run("map --workload wrn16_4 --array 256x256 --mapper auto --format json");
  ASSERT_EQ(j.code, 0) << j.err;
  EXPECT_NE(j.out.find("\"total_cycles\""), std::string::npos);
  const Result t = run("map --workload vgg13 --array 64x64 --mapper all");
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.out.find("speed-up vs im2col"), std::string::npos);
}

TEST_F(Cli, BadCommandLinesExitTwoWithTheFlagNamed) {
  struct Case {
    const char* args;
    const char* expect;
  } cases[] = {
      {"map --workload resnet20 --array 128", "--array: expected ROWSxCOLS"},
      {"map --workload resnet20 --mapper sdk2", "--mapper"},
      {"map --layer I=32,K=3,OC=8", "missing IC"},
      {"map --layer I=32,K=3,IC=x,OC=8", "IC: expected an integer"},
      {"map --layer I=32,K=3,IC=3,OC=8,Q=1", "unknown key \"Q\""},
      {"map --array 128x128", "give either --workload"},
      {"map --workload resnet20 --format xml", "--format"},
      {"frobnicate", "frobnicate"},
  };
  for (const auto& c : cases) {
    const Result r = run(c.args);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_TRUE(r.out.empty()) << c.args;
  }
}

TEST_F(Cli, UnknownWorkloadAndKernelTooLargeAreInputErrors) {
  Result r = run("map --workload resnet21");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("unknown built-in workload \"resnet21\""), std::string::npos) << r.err;
  r = run("map --layer I=2,K=3,IC=3,OC=8 --convention vwsdk");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("kernel 3x3 does not fit"), std::string::npos) << r.err;
}

TEST_F(Cli, RunWritesTheRunFolderDeterministically) {
  const fs::path out1 = tmp_ / "o1", out2 = tmp_ / "o2";
  const Result a = run("run configs/experiments/default.yaml -q -o " + out1.string());
  ASSERT_EQ(a.code, 0) << a.err;
  const Result b = run("run configs/experiments/default.yaml -q -o " + out2.string());
  ASSERT_EQ(b.code, 0) << b.err;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(out1)) dirs.push_back(e.path());
  ASSERT_EQ(dirs.size(), 1u);  // no temporary folders left behind
  const std::string id = dirs[0].filename().string();
  EXPECT_EQ(id.rfind("default-", 0), 0u) << id;
  for (const char* f : {"resolved.yaml", "summary.json", "layers.csv"}) {
    ASSERT_TRUE(fs::exists(out1 / id / f)) << f;
    EXPECT_EQ(slurp(out1 / id / f), slurp(out2 / id / f)) << f << " differs between runs";
  }
  // Re-running the resolved copy reproduces the same results.
  const fs::path out3 = tmp_ / "o3";
  const Result c = run("run " + (out1 / id / "resolved.yaml").string() + " -q -o " + out3.string());
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(slurp(out1 / id / "layers.csv"), slurp(out3 / id / "layers.csv"));
  EXPECT_NE(slurp(out1 / id / "summary.json").find("\"totals\""), std::string::npos);
}

TEST_F(Cli, UnwritableOutputDirIsAnErrorWithNoOutput) {
  const fs::path blocker = tmp_ / "file";
  std::ofstream(blocker) << "x";
  const Result r = run("run configs/experiments/default.yaml -q -o " + (blocker / "out").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("output_dir"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(blocker / "out"));
}

TEST_F(Cli, ListShowsEveryRegistry) {
  const Result r = run("list");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* want : {"vwsdk", "resnet20", "wrn16_4", "adc_share", "isaac-rram-32nm",
                           "rram-28nm-survey", "group-lowrank"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want;
  EXPECT_EQ(run("list techs").code, 2);
}

TEST_F(Cli, CompressExportsAnOnnxModelThatRuns) {
  const std::string model = path("lr.onnx");
  Result r =
      run("compress --workload resnet20 --method lowrank --rank 4 --array 128x128 --format csv "
          "--export " +
          model);
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(fs::exists(model));
  // A seeded input through the exported model (imcsim infer reads the ONNX it wrote).
  const fs::path input = fs::path(IMCSIM_SOURCE_DIR) /
                         "../shared/data/resnet20-cifar10/onnx/test_data_set_0/input_0.pb";
  if (!fs::exists(input)) GTEST_SKIP() << "no test input at " << input;
  r = run("infer --model " + model + " --input " + input.string() + " --output " + path("out.pb"));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(path("out.pb")));
}

TEST_F(Cli, CompressReadsAnOnnxModel) {
  EXPECT_EQ(run("compress --method lowrank").code, 2);  // neither --workload nor --model
  const fs::path model =
      fs::path(IMCSIM_SOURCE_DIR) / "../shared/data/resnet20-cifar10/onnx/model.onnx";
  if (!fs::exists(model)) GTEST_SKIP() << "no trained ResNet-20 model at " << model;
  const Result r =
      run("compress --model " + model.string() + " --method lowrank --rank 4 --format csv");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(",lowrank,4,"), std::string::npos) << r.out.substr(0, 400);
}
