// End-to-end tests of `imcsim sweep` and `imcsim merge` on the binary: failure isolation,
// kill and resume, shards, determinism across runs and -j, cycle points as processes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "cli_test_util.hpp"

extern char** environ;

namespace fs = std::filesystem;

namespace {

using imcsim::test::slurp;
using Result = imcsim::test::CliResult;

// Finished point folders (hidden temporaries excluded).
size_t finished_points(const fs::path& dir) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir / "points", ec))
    if (e.path().filename().string()[0] != '.' && fs::exists(e.path() / "point.json")) ++n;
  return n;
}

class SweepCli : public imcsim::test::CliTest {
 protected:
  // Keeps the folder of a failed test for inspection.
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(tmp_);
  }

  // Starts imcsim in the background; returns its process id.
  pid_t start(const std::vector<std::string>& args) {
    std::vector<std::string> all = {IMCSIM_BIN};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    argv.reserve(all.size() + 1);
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, (tmp_ / "bg.stderr").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = 0;
    EXPECT_EQ(posix_spawn(&pid, IMCSIM_BIN, &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
  }

  fs::path write(const std::string& name, const std::string& text) {
    std::ofstream(tmp_ / name) << text;
    return tmp_ / name;
  }

  std::string sweep_yaml(const std::string& mode, const std::string& axes) {
    return std::string("name: s\nworkload: resnet20\narch: ") + IMCSIM_SOURCE_DIR +
           "/configs/arch/paper-128.yaml\nmappers: [im2col, vwsdk]\nsweep:\n  mode: " + mode +
           "\n  axes:\n" + axes;
  }

  // Kills a running sweep once `at` points are finished, resumes it, and checks the
  // merged results equal those of an uninterrupted run.
  void kill_and_resume(const std::string& mode, const std::string& axes, size_t total,
                       const std::string& jobs) {
    const fs::path exp = write("exp.yaml", sweep_yaml(mode, axes));
    ASSERT_EQ(run("sweep " + exp.string() + " -q -j 2 -o " + (tmp_ / "whole").string()).code, 0);
    ASSERT_EQ(run("merge " + (tmp_ / "whole").string() + " -o " + (tmp_ / "whole").string()).code,
              0);

    std::random_device rd;
    const unsigned seed = rd();
    std::mt19937 rng(seed);
    const size_t at = std::uniform_int_distribution<size_t>(total / 10, total / 2)(rng);
    SCOPED_TRACE("seed " + std::to_string(seed) + ", kill after " + std::to_string(at) + " points");
    const fs::path dir = tmp_ / "killed";
    const pid_t pid = start({"sweep", exp.string(), "-q", "-j", jobs, "-o", dir.string()});
    int status = 0;
    bool exited = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (finished_points(dir) < at && std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (!exited) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
    }
    ASSERT_FALSE(exited) << "the sweep finished before it could be killed";
    ASSERT_TRUE(WIFSIGNALED(status));
    const size_t before = finished_points(dir);
    ASSERT_LT(before, total);
    // Orphaned point processes of a killed cycle sweep may still finish: let them.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const size_t kept = finished_points(dir);

    const Result r = run("sweep " + exp.string() + " -q --resume -j 2 -o " + dir.string());
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find(std::to_string(total - kept) + " of " + std::to_string(total) +
                         " points run, 0 failed, " + std::to_string(kept) + " already done"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(finished_points(dir), total);
    for (const auto& e : fs::directory_iterator(dir / "points"))
      EXPECT_NE(e.path().filename().string()[0], '.') << "temporary left: " << e.path();
    ASSERT_EQ(run("merge " + dir.string() + " -o " + dir.string()).code, 0);
    EXPECT_EQ(slurp(dir / "results.csv"), slurp(tmp_ / "whole" / "results.csv"));
    EXPECT_EQ(slurp(dir / "results.json"), slurp(tmp_ / "whole" / "results.json"));
    EXPECT_EQ(slurp(dir / "layers.csv"), slurp(tmp_ / "whole" / "layers.csv"));
  }
};

const std::string kAxes =
    "    workload: [resnet20, wrn16_4]\n"
    "    arch.rows: [64, 128, 256]\n"
    "    arch.cols: [64, 128, 256]\n"
    "    arch.adc_bits: {from: 6, to: 8}\n"
    "  zip: [[arch.rows, arch.cols]]\n";

}  // namespace

TEST_F(SweepCli, FailingPointIsRecordedAndOthersRun) {
  // A workload whose kernel is larger than its input: it loads (the path exists) but
  // fails when mapped, so only the points that use it fail.
  write("bad.yaml",
        "name: bad\ninput: {h: 4, w: 4, c: 3}\nlayers:\n"
        "  - {name: c1, type: conv, out_channels: 8, kernel: 7}\n");
  const fs::path exp = write("exp.yaml", sweep_yaml("analytic",
                                                    "    workload: [resnet20, bad.yaml]\n"
                                                    "    arch.adc_bits: [4, 8]\n"));
  const fs::path dir = tmp_ / "sw";
  const Result r = run("sweep " + exp.string() + " -j 2 -o " + dir.string());
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_NE(r.err.find("4 of 4 points run, 2 failed"), std::string::npos) << r.err;
  size_t failed = 0, ok = 0;
  for (const auto& e : fs::directory_iterator(dir / "points")) {
    const auto point = nlohmann::json::parse(slurp(e.path() / "point.json"));
    if (point["status"] == "failed") {
      ++failed;
      EXPECT_EQ(point["values"]["workload"], "bad.yaml");
      EXPECT_NE(point["error"].get<std::string>().find("bad.yaml"), std::string::npos)
          << point["error"];
      EXPECT_FALSE(fs::exists(e.path() / "summary.json"));
    } else {
      ++ok;
      EXPECT_EQ(point["values"]["workload"], "resnet20");
      EXPECT_TRUE(fs::exists(e.path() / "summary.json"));
    }
  }
  EXPECT_EQ(failed, 2u);
  EXPECT_EQ(ok, 2u);
  // Resume keeps recorded failures (nothing is missing); merge lists them with their error.
  const Result again = run("sweep " + exp.string() + " --resume -o " + dir.string());
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.err.find("0 of 4 points run, 0 failed, 4 already done"), std::string::npos);
  ASSERT_EQ(run("merge " + dir.string() + " -o " + dir.string()).code, 0);
  const std::string csv = slurp(dir / "results.csv");
  EXPECT_EQ(csv.rfind("point,workload,arch.adc_bits,mapper,status,cycles,", 0), 0u) << csv;
  size_t failed_rows = 0, pos = 0;
  while ((pos = csv.find(",failed,", pos)) != std::string::npos) ++failed_rows, ++pos;
  EXPECT_EQ(failed_rows, 2u);
}

TEST_F(SweepCli, InvalidSweepWritesNothing) {
  const fs::path exp = write("exp.yaml", sweep_yaml("analytic", "    arch.rowz: [64, 128]\n"));
  const Result r = run("sweep " + exp.string() + " -o " + (tmp_ / "sw").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("exp.yaml:8: arch.rowz: unknown key"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp_ / "sw"));
  const Result plain = run("sweep configs/experiments/default.yaml -o " + (tmp_ / "sw").string());
  EXPECT_EQ(plain.code, 1);
  EXPECT_NE(plain.err.find("default.yaml:4: no `sweep:` section"), std::string::npos) << plain.err;
  const Result shard = run("sweep " + exp.string() + " --shard 3/3");
  EXPECT_EQ(shard.code, 2) << shard.err;
  const Result threads = run("sweep " + exp.string() + " --threads 3 -o " + (tmp_ / "sw").string());
  EXPECT_EQ(threads.code, 2) << threads.err;
  EXPECT_NE(threads.err.find("--threads"), std::string::npos) << threads.err;
  EXPECT_FALSE(fs::exists(tmp_ / "sw"));
}

TEST_F(SweepCli, KillAnalyticSweepAndResume) {
  // 2 x 16 x 15 = 480 analytic points, -j 1, killed after a random number of points.
  kill_and_resume("analytic",
                  "    workload: [resnet20, wrn16_4]\n"
                  "    arch.rows: {from: 40, to: 520, step: 32}\n"
                  "    arch.adc_bits: {from: 2, to: 16}\n",
                  480, "1");
}

TEST_F(SweepCli, KillCycleSweepAndResume) {
  // Points as child processes (`imcsim run`), two at a time; 2 x 3 x 3 = 18 points.
  kill_and_resume("cycle", kAxes, 18, "2");
}

TEST_F(SweepCli, CyclePointsRunLongestFirst) {
  // 512x512 first in the sweep, but 64x64 arrays need far more computing cycles: with one
  // job the larger estimate runs first. --max-events 1 makes every point's process refuse
  // its run, so each reports its failure as it ends: in the order the points ran.
  const fs::path exp = write(
      "exp.yaml", std::string("name: s\nworkload: resnet20\narch: ") + IMCSIM_SOURCE_DIR +
                      "/configs/arch/paper-128.yaml\nmappers: [sdk]\nmode: cycle\nsweep:\n"
                      "  mode: cycle\n  axes:\n    arch.rows: [512, 64]\n    arch.cols: [512, 64]\n"
                      "  zip: [[arch.rows, arch.cols]]\n");
  const Result r =
      run("sweep " + exp.string() + " -q -j 1 --max-events 1 -o " + (tmp_ / "s").string());
  ASSERT_EQ(r.code, 4) << r.err;       // some points failed
  std::map<int64_t, size_t> reported;  // rows -> where its failure is in stderr
  for (const auto& e : fs::directory_iterator(tmp_ / "s" / "points")) {
    const auto rec = nlohmann::json::parse(slurp(e.path() / "point.json"));
    EXPECT_EQ(rec["status"], "failed");
    const std::string error = rec["error"].get<std::string>();
    EXPECT_NE(error.find("--max-events"), std::string::npos) << error;
    // It names the YAML the point's folder keeps, not the process's temporary copy.
    EXPECT_EQ(error.rfind((e.path() / "resolved.yaml").string() + ": ", 0), 0u) << error;
    EXPECT_TRUE(fs::exists(e.path() / "resolved.yaml"));
    reported[std::stoll(rec["values"]["arch.rows"].get<std::string>())] =
        r.err.find("point " + rec["id"].get<std::string>() + " ");
  }
  ASSERT_EQ(reported.size(), 2u);
  ASSERT_NE(reported.at(64), std::string::npos) << r.err;
  ASSERT_NE(reported.at(512), std::string::npos) << r.err;
  EXPECT_LT(reported.at(64), reported.at(512)) << r.err;
}

TEST_F(SweepCli, ShardUnionEqualsTheWholeSweep) {
  const fs::path exp = write("exp.yaml", sweep_yaml("analytic", kAxes));
  ASSERT_EQ(run("sweep " + exp.string() + " -q -o " + (tmp_ / "whole").string()).code, 0);
  ASSERT_EQ(run("merge " + (tmp_ / "whole").string() + " -o " + (tmp_ / "m1").string()).code, 0);
  size_t sum = 0;
  for (int k = 0; k < 3; ++k) {
    const auto dir = tmp_ / ("shard" + std::to_string(k));
    ASSERT_EQ(run("sweep " + exp.string() + " -q -j 1 --shard " + std::to_string(k) + "/3 -o " +
                  dir.string())
                  .code,
              0);
    sum += finished_points(dir);
  }
  EXPECT_EQ(sum, 18u);
  // Shards in any order give the same bytes as the unsharded sweep.
  ASSERT_EQ(run("merge " + (tmp_ / "shard2").string() + " " + (tmp_ / "shard0").string() + " " +
                (tmp_ / "shard1").string() + " -o " + (tmp_ / "m2").string())
                .code,
            0);
  for (const char* f : {"results.csv", "results.json", "layers.csv"})
    EXPECT_EQ(slurp(tmp_ / "m1" / f), slurp(tmp_ / "m2" / f)) << f;
  // A missing shard is an error, not a silently smaller table.
  const Result partial = run("merge " + (tmp_ / "shard0").string() + " " +
                             (tmp_ / "shard1").string() + " -o " + (tmp_ / "m3").string());
  EXPECT_EQ(partial.code, 1);
  EXPECT_NE(partial.err.find("incomplete sweep: the folders list 12 of its 18 points"),
            std::string::npos)
      << partial.err;
  // Resuming another sweep's folder is refused.
  const fs::path other = write("other.yaml", sweep_yaml("analytic", "    arch.adc_bits: [5]\n"));
  const Result wrong = run("sweep " + other.string() + " --resume -o " + (tmp_ / "whole").string());
  EXPECT_EQ(wrong.code, 1);
  EXPECT_NE(wrong.err.find("holds another sweep or shard"), std::string::npos) << wrong.err;
}

TEST_F(SweepCli, MergeIsDeterministicAcrossRunsJobsAndModes) {
  const fs::path exp = write("exp.yaml", sweep_yaml("analytic", kAxes));
  const fs::path cyc = write("cyc.yaml", sweep_yaml("cycle", kAxes));
  ASSERT_EQ(run("sweep " + exp.string() + " -q -j 1 -o " + (tmp_ / "a").string()).code, 0);
  ASSERT_EQ(run("sweep " + exp.string() + " -q -j 2 -o " + (tmp_ / "b").string()).code, 0);
  ASSERT_EQ(run("sweep " + cyc.string() + " -q -j 2 -o " + (tmp_ / "c").string()).code, 0);
  for (const char* d : {"a", "b", "c"})
    ASSERT_EQ(run(std::string("merge ") + (tmp_ / d).string() + " -o " + (tmp_ / d).string()).code,
              0);
  ASSERT_EQ(run("merge " + (tmp_ / "a").string() + " -o " + (tmp_ / "a2").string()).code, 0);
  for (const char* f : {"results.csv", "results.json", "layers.csv"}) {
    const std::string a = slurp(tmp_ / "a" / f);
    EXPECT_FALSE(a.empty());
    EXPECT_EQ(a, slurp(tmp_ / "a2" / f)) << f;
    EXPECT_EQ(a, slurp(tmp_ / "b" / f)) << f;
  }
  // A point run as its own process gives the same table as one run in-process.
  EXPECT_EQ(slurp(tmp_ / "a" / "results.csv"), slurp(tmp_ / "c" / "results.csv"));
  EXPECT_EQ(slurp(tmp_ / "a" / "layers.csv"), slurp(tmp_ / "c" / "layers.csv"));
  // One row per point and mapper; the values of a row are its point's.
  std::istringstream lines(slurp(tmp_ / "a" / "results.csv"));
  std::string line;
  size_t rows = 0;
  std::getline(lines, line);
  EXPECT_EQ(line.rfind("point,workload,arch.rows,arch.cols,arch.adc_bits,mapper,status,cycles", 0),
            0u)
      << line;
  while (std::getline(lines, line)) ++rows;
  EXPECT_EQ(rows, 18u * 2u);
  // The point's own run folder agrees with `imcsim run` of its resolved.yaml.
  const auto points = fs::directory_iterator(tmp_ / "a" / "points");
  const fs::path first = points->path();
  ASSERT_EQ(
      run("run " + (first / "resolved.yaml").string() + " -q -o " + (tmp_ / "single").string())
          .code,
      0);
  const auto point = nlohmann::json::parse(slurp(first / "point.json"));
  EXPECT_EQ(slurp(tmp_ / "single" / point["run_id"].get<std::string>() / "summary.json"),
            slurp(first / "summary.json"));
}

TEST_F(SweepCli, PlotWritesPngsOfAMergedSweep) {
  const fs::path dir = tmp_ / "small";
  ASSERT_EQ(run("sweep configs/experiments/sweep-small.yaml -q -o " + dir.string()).code, 0);
  ASSERT_EQ(run("merge " + dir.string() + " -o " + dir.string()).code, 0);
  const std::string cmd = std::string(IMCSIM_SOURCE_DIR) + "/scripts/plot " + dir.string() +
                          " -o " + (tmp_ / "plots").string() + " >" + (tmp_ / "plot.out").string() +
                          " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << slurp(tmp_ / "plot.out");
  for (const char* png : {"pareto.png", "cycles_vs_arch.rows.png", "utilization.png"}) {
    const std::string bytes = slurp(tmp_ / "plots" / png);
    EXPECT_GT(bytes.size(), 5000u) << png;
    EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << png;
  }
  // A folder without results.csv is a named error.
  const std::string bad = std::string(IMCSIM_SOURCE_DIR) + "/scripts/plot " + tmp_.string() + " >" +
                          (tmp_ / "plot.err").string() + " 2>&1";
  EXPECT_NE(std::system(bad.c_str()), 0);
  EXPECT_NE(slurp(tmp_ / "plot.err").find("results.csv: no such file"), std::string::npos);
}
