// The `limits:` section of an experiment (sim/config/config_limits.hpp) against the flags of the
// same names: the YAML value applies, the flag overrides it, resolved.yaml carries it, and
// a sweep applies max_points / max_disk itself and hands the section on to its cycle points.
// Bad values are catalogue cases (tests/bad_inputs/limits_*.yaml).
#include <fstream>
#include <string>

#include "tests/cli/cli_test_util.hpp"

namespace fs = std::filesystem;

namespace {

const std::string kTinyCycle =
    std::string("workload: ") + IMCSIM_SOURCE_DIR +
    "/tests/bad_inputs/workloads/tiny.yaml\n"
    "arch: {rows: 128, cols: 128, weight_bits: 8, cell_bits: 2, arrays: 8}\n"
    "mappers: [vwsdk]\nmode: cycle\nengine: {tech: isaac-rram-32nm}\n";
const std::string kFourPoints =
    std::string("workload: resnet20\narch: ") + IMCSIM_SOURCE_DIR +
    "/configs/arch/paper-128.yaml\nmappers: [vwsdk]\n"
    "sweep:\n  axes:\n    arch.rows: [64, 128]\n    arch.cols: [64, 128]\n";

class CliRunLimits : public imcsim::test::CliTest {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    const fs::path p = tmp_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  std::string out() const { return (tmp_ / "out").string(); }
};

}  // namespace

TEST_F(CliRunLimits, YamlMemoryLimitRefusesAndTheFlagOverridesIt) {
  const std::string f = write("x.yaml", kTinyCycle + "limits: {max_memory: 1M}\n");
  const auto refused = run("run " + f + " -q -o " + out());
  EXPECT_EQ(refused.code, 1) << refused.err;
  EXPECT_NE(refused.err.find("of memory, above the limit of 1.0 MiB"), std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("raise it with --max-memory (or limits.max_memory)"),
            std::string::npos)
      << refused.err;
  EXPECT_FALSE(fs::exists(out()));
  const auto ran = run("run " + f + " -q -o " + out() + " --max-memory 1G");
  EXPECT_EQ(ran.code, 0) << ran.err;
}

TEST_F(CliRunLimits, YamlEventLimitRefusesAndTheFlagOverridesIt) {
  const std::string f = write("x.yaml", kTinyCycle + "limits: {max_events: 1e2}\n");
  const auto refused = run("run " + f + " -q -o " + out());
  EXPECT_EQ(refused.code, 1) << refused.err;
  EXPECT_NE(refused.err.find("simulation events, above the limit of 100 ("), std::string::npos)
      << refused.err;
  EXPECT_EQ(run("run " + f + " -q -o " + out() + " --max-events 1000000").code, 0);
}

TEST_F(CliRunLimits, ALimitAboveTheEstimateRuns) {
  const std::string f =
      write("x.yaml", kTinyCycle + "limits: {max_memory: 512M, max_events: 1000, max_disk: 1M}\n");
  const auto r = run("run " + f + " -q -o " + out());
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST_F(CliRunLimits, ResolvedYamlCarriesTheSectionOnlyWhenGiven) {
  const auto with = run("validate " + write("a.yaml", kTinyCycle + "limits: {max_memory: 2G}\n"));
  ASSERT_EQ(with.code, 0) << with.err;
  EXPECT_NE(with.out.find("limits:\n  max_memory: 2147483648\n  max_events: 50000000000\n"
                          "  max_disk: 17179869184\n  max_points: 1000000\n"),
            std::string::npos)
      << with.out;
  const auto without = run("validate " + write("b.yaml", kTinyCycle));
  ASSERT_EQ(without.code, 0) << without.err;
  EXPECT_EQ(without.out.find("limits:"), std::string::npos) << without.out;
}

TEST_F(CliRunLimits, SweepPointLimitFromYamlAndTheFlagOverridesIt) {
  const std::string f = write("s.yaml", kFourPoints + "limits: {max_points: 3}\n");
  const auto refused = run("sweep " + f + " -q -o " + out());
  EXPECT_EQ(refused.code, 1) << refused.err;
  EXPECT_NE(refused.err.find("the sweep has 4 points, above the limit of 3"), std::string::npos)
      << refused.err;
  EXPECT_FALSE(fs::exists(out()));
  const auto ran = run("sweep " + f + " -q -o " + out() + " --max-points 4");
  EXPECT_EQ(ran.code, 0) << ran.err;
}

TEST_F(CliRunLimits, CyclePointsOfASweepKeepTheYamlLimitsUnlessAFlagIsGiven) {
  const std::string f = write("c.yaml", kTinyCycle +
                                            "limits: {max_memory: 1M}\n"
                                            "sweep:\n  axes:\n    arch.rows: [64, 128]\n");
  const auto refused = run("sweep " + f + " -q -j 1 -o " + out());
  EXPECT_EQ(refused.code, 4) << refused.err;  // the sweep ran; both points failed
  EXPECT_NE(refused.err.find("2 failed"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("above the limit of 1.0 MiB"), std::string::npos) << refused.err;
  const auto ran =
      run("sweep " + f + " -q -j 1 -o " + (tmp_ / "out2").string() + " --max-memory 1G");
  EXPECT_EQ(ran.code, 0) << ran.err;
}
