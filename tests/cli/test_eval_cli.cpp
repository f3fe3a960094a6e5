// `imcsim eval` and `imcsim calibrate` end to end on the shared trained ResNet-20 and CIFAR-10
// images (skipped where ../shared/data is absent): the float headline number, byte-identical
// reports for any -j, a calibration that int mode reads, and the flag errors (exit 2).
#include <nlohmann/json.hpp>

#include "tests/cli/cli_test_util.hpp"

namespace {

using imcsim::test::CliTest;
using imcsim::test::slurp;
namespace fs = std::filesystem;

const fs::path kShared = fs::path(IMCSIM_SOURCE_DIR) / ".." / "shared" / "data";
const std::string kModel = "../shared/data/resnet20-cifar10/onnx/model.onnx";
const std::string kData = "../shared/data/cifar10";

#define REQUIRE_SHARED()                                                                      \
  if (!fs::exists(kShared / "resnet20-cifar10" / "onnx" / "model.onnx") ||                    \
      !fs::exists(kShared / "cifar10" / "dataset.yaml"))                                      \
  GTEST_SKIP() << "trained ResNet-20 or CIFAR-10 subset not found under " << kShared.string() \
               << " (../shared/data from the project root); skipping"

class EvalCli : public CliTest {};

}  // namespace

TEST_F(EvalCli, FloatTableHeadline) {
  REQUIRE_SHARED();
  const auto r = run("eval --model " + kModel + " --dataset " + kData + " -j 2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("top-1 439/512 = 85.74 % (95 % CI 82.45-88.51 %)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.err.find("imcsim: eval float: "), std::string::npos) << r.err;  // progress
}

TEST_F(EvalCli, JsonIsByteIdenticalForAnyThreadCount) {
  REQUIRE_SHARED();
  const std::string base =
      "eval --model " + kModel + " --dataset " + kData + " --limit 48 --format json -q";
  const auto r1 = run(base + " -j 1 -o " + path("j1.json"));
  ASSERT_EQ(r1.code, 0) << r1.err;
  EXPECT_EQ(r1.err, "");  // -q: no progress
  const auto r2 = run(base + " -j 2 -o " + path("j2.json"));
  ASSERT_EQ(r2.code, 0) << r2.err;
  const std::string j1 = slurp(path("j1.json")), j2 = slurp(path("j2.json"));
  EXPECT_EQ(j1, j2);
  const auto j = nlohmann::json::parse(j1);
  EXPECT_EQ(j["images"], 48);
  EXPECT_EQ(j["mode"], "float");
  EXPECT_EQ(j["dataset"], "cifar10");
  EXPECT_EQ(j["split"], "test");
  EXPECT_EQ(j["model"], kModel);
  EXPECT_EQ(j["per_class"].size(), 10u);
  EXPECT_EQ(j["top1_ci95"].size(), 2u);
  EXPECT_EQ(j["predictions"].size(), 48u);
}

TEST_F(EvalCli, CalibrateThenInt) {
  REQUIRE_SHARED();
  const auto c =
      run("calibrate --model " + kModel + " --dataset " + kData +
          " --split train --images 16 --method percentile:99.9 -j 2 -o " + path("calib.yaml"));
  ASSERT_EQ(c.code, 0) << c.err;
  const std::string calib = slurp(path("calib.yaml"));
  EXPECT_EQ(calib.rfind("# imcsim calibration:", 0), 0u);
  EXPECT_NE(calib.find("split: train\nimages: 16\n"), std::string::npos) << calib;
  EXPECT_NE(calib.find("method: percentile:99.9\nbits: 8\ntensors:\n  input: {lo: "),
            std::string::npos)
      << calib;
  const auto e =
      run("eval --model " + kModel + " --dataset " + kData + " --mode int --calibration " +
          path("calib.yaml") + " --limit 16 --format json -q -j 2");
  ASSERT_EQ(e.code, 0) << e.err;
  const auto j = nlohmann::json::parse(e.out);
  EXPECT_EQ(j["mode"], "int");
  EXPECT_EQ(j["calibration"], path("calib.yaml"));
  EXPECT_EQ(j["weight_bits"], 8);
  EXPECT_EQ(j["input_bits"], 8);
  EXPECT_GE(j["agreement_with_float"].get<double>(), 0.75);
  EXPECT_TRUE(j.contains("mean_abs_logit_error"));
  // Dynamic ranges when no calibration is given.
  const auto d = run("eval --model " + kModel + " --dataset " + kData +
                     " --mode int --limit 4 --format json -q");
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_EQ(nlohmann::json::parse(d.out)["calibration"], "dynamic");
}

TEST_F(EvalCli, CalibrateRefusesTheTestSplit) {
  REQUIRE_SHARED();
  const auto r = run("calibrate --model " + kModel + " --dataset " + kData + " --split test -o " +
                     path("c.yaml"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--split: test images are for measuring only"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("c.yaml")));
}

TEST_F(EvalCli, BadFlagValuesAreUsageErrorsNamingTheFlag) {
  REQUIRE_SHARED();
  const std::string base =
      "eval --model " + kModel + " --dataset " + kData + " -o " + path("out") + " ";
  for (const auto& [args, flag] : std::vector<std::pair<std::string, std::string>>{
           {"--mode fast", "--mode: expected float, int or cycle"},
           {"--format xml", "--format: expected table or json"},
           {"-j 0", "-j: expected an integer in 1..256"},
           {"--limit ten", "--limit: expected an integer"},
           {"--calibration x.yaml", "--calibration: a calibration applies to --mode int"},
           {"--weights w", "--weights: --weights/--weight-map go with --workload"}}) {
    const auto r = run(base + args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(flag), std::string::npos) << args << "\n" << r.err;
    EXPECT_FALSE(fs::exists(path("out"))) << args;
  }
  const auto c = run("calibrate --model " + kModel + " --dataset " + kData +
                     " --method median -o " + path("out"));
  EXPECT_EQ(c.code, 2);
  EXPECT_NE(c.err.find("--method: expected max or percentile:P"), std::string::npos) << c.err;
  const auto n = run("calibrate --model " + kModel + " --dataset " + kData + " --images 6000 -o " +
                     path("out"));
  EXPECT_EQ(n.code, 2);
  EXPECT_NE(n.err.find("--images: split train of cifar10 has 5085 images"), std::string::npos)
      << n.err;
}

// The cycle-accurate engine at the lossless ADC bound reproduces the integer reference exactly
// on real images, calibrated activations with zero points and the 2-bit layers on their odd
// grid included: same logits, same predictions, same top-1 (REFERENCE §10, §13).
TEST_F(EvalCli, CycleEqualsIntExactlyAtTheLosslessAdcBound) {
  REQUIRE_SHARED();
  const auto c = run("calibrate --model " + kModel + " --dataset " + kData +
                     " --split train --images 64 -j 2 -q -o " + path("calib.yaml"));
  ASSERT_EQ(c.code, 0) << c.err;
  const std::string arch =
      std::string(IMCSIM_SOURCE_DIR) + "/configs/arch/paper-accuracy-128-lossless.yaml";
  const auto r = run("eval --model " + kModel + " --dataset " + kData + " --mode cycle --arch " +
                     arch + " --calibration " + path("calib.yaml") +
                     " --limit 16 --format json -q -o " + path("c.json"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(slurp(path("c.json")));
  EXPECT_EQ(j["mode"], "cycle");
  EXPECT_EQ(j["images"], 16);
  EXPECT_EQ(j["max_abs_logit_difference_vs_int"].get<double>(), 0.0);
  EXPECT_EQ(j["agreement_with_int"].get<double>(), 1.0);
  EXPECT_EQ(j["correct"], j["int_correct"]);
  // Without an architecture the engine has nothing to simulate: a named error.
  const auto bad =
      run("eval --model " + kModel + " --dataset " + kData + " --mode cycle --limit 2 -q");
  EXPECT_EQ(bad.code, 1) << bad.err;
  EXPECT_NE(bad.err.find("--arch"), std::string::npos) << bad.err;
}
