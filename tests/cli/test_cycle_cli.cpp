// `imcsim run` in mode cycle, end to end through the binary (each run is its own
// process, as SystemC requires): exactness on whole networks, analytic == engine on an
// uncontended configuration for every layer and mapper, determinism, schedule.yaml,
// trace.vcd accepted by vcd2fst, re-pricing, and the trained ResNet-20 weights.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_test_util.hpp"

namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

using imcsim::test::slurp;

class CycleCli : public imcsim::test::CliTest {
 protected:
  int run(const std::string& args, std::string* err = nullptr) {
    const imcsim::test::CliResult r = CliTest::run(args);
    if (err) *err = r.err;
    return r.code;
  }

  // Writes an experiment (and an uncontended technology when asked) and returns its path.
  fs::path experiment(const std::string& name, const std::string& workload,
                      const std::string& mapper, const std::string& arch,
                      const std::string& engine) {
    fs::path p = tmp_ / (name + ".yaml");
    std::ofstream(p) << "name: " << name << "\nworkload: " << workload << "\narch: " << arch
                     << "\nmappers: [" << mapper << "]\nmode: cycle\nengine: " << engine << "\n";
    return p;
  }

  // Writes a technology file tmp_/tech-<name>.yaml with `timing` (the inside of its
  // mapping) and fixed energies and areas.
  fs::path tech_file(const std::string& name, const std::string& timing) {
    fs::path p = tmp_ / ("tech-" + name + ".yaml");
    std::ofstream(p) << "tech:\n  name: " << name << "\n  timing: {" << timing << "}"
                     << R"(
  energy_pj: {dac_conversion: 0.1, wordline_activation: 0.0, cell_read: 0.001,
              adc_conversion: 1.0, shift_add: 0.03, accumulator_add: 0.1, buffer_read_bit: 0.1,
              buffer_write_bit: 0.1, router_pixel: 0.03, cell_write: 2.0, digital_op: 0.03}
  leakage_mw_per_array: 0.01
  area_um2: {cell: 0.002, dac: 0.2, adc: 1000, shift_add: 50, periphery_per_array: 300}
)";
    return p;
  }
  fs::path uncontended_tech() {
    return tech_file("uncontended",
                     "clock_ns: 1.0, t_dac: 1, t_read: 9, t_adc: 1, t_route: 1, t_shift_add: 1, "
                     "t_accumulate: 1, input_bits_per_clock: 1000000000, "
                     "output_bits_per_clock: 1000000000, accumulator_bits: 32, "
                     "t_program_row: 10, digital_ops_per_clock: 64");
  }

  // Runs `exp` with `flags_a` (into tmp_/a) and `flags_b` (tmp_/b); true when both ran and
  // each of `files` is the same bytes.
  bool runs_agree(const fs::path& exp, const std::string& flags_a, const std::string& flags_b,
                  const std::vector<std::string>& files) {
    fs::remove_all(tmp_ / "a");
    fs::remove_all(tmp_ / "b");
    std::string err;
    for (const auto& [flags, dir] : {std::pair{flags_a, "a"}, std::pair{flags_b, "b"}}) {
      if (run("run " + exp.string() + " -q " + flags + " -o " + (tmp_ / dir).string(), &err) != 0) {
        ADD_FAILURE() << exp.filename() << " " << flags << ": " << err;
        return false;
      }
    }
    const fs::path a = run_dir(tmp_ / "a"), b = run_dir(tmp_ / "b");
    bool same = true;
    for (const auto& f : files) {
      if (!fs::exists(a / f)) {
        ADD_FAILURE() << f << " missing";
        return false;
      }
      if (slurp(a / f) != slurp(b / f)) {
        ADD_FAILURE() << exp.filename() << ": " << f << " differs between "
                      << (flags_a.empty() ? "the defaults" : flags_a) << " and " << flags_b;
        same = false;
      }
    }
    return same;
  }

  // The reference passes beside the engine (--threads 2, into tmp_/a) and after it
  // (--threads 1, tmp_/b).
  bool run_on_one_and_two_threads(const fs::path& exp, const std::vector<std::string>& files) {
    return runs_agree(exp, "--threads 2", "--threads 1", files);
  }

  Json summary_of(const fs::path& out) {
    for (const auto& e : fs::directory_iterator(out))
      if (fs::is_directory(e.path())) return Json::parse(slurp(e.path() / "summary.json"));
    return Json();
  }
  fs::path run_dir(const fs::path& out) {
    for (const auto& e : fs::directory_iterator(out))
      if (fs::is_directory(e.path())) return e.path();
    return {};
  }
};

// 128 rows x (2^2 - 1) x (2^1 - 1) = 384 -> a 9-bit ADC is lossless (REFERENCE §10).
const char* kLosslessArch =
    "{rows: 128, cols: 128, cell_bits: 2, weight_bits: 8, input_bits: 8, dac_bits: 1, "
    "adc_bits: 9, adc_share: 8, arrays: 64}";

std::string fmt_key(const std::string& block, const std::string& counter) {
  std::string key = block;
  key += '.';
  key += counter;
  return key;
}

// Sums over a stats.json tree (node = a block's counters or a group's blocks) every counter
// whose entry in `counters` has `field` equal to `key`; energy_pj entries when `key` is empty.
double tree_sum(const Json& node, const std::string& block, const Json& counters, const char* field,
                const std::string& key) {
  double sum = 0;
  for (const auto& [k, v] : node.items()) {
    if (v.is_object()) {
      sum += tree_sum(v, k, counters, field, key);
    } else if (k == "energy_pj") {
      if (key.empty()) sum += v.get<double>();
    } else if (!key.empty()) {
      const Json& c = counters.at(fmt_key(block, k));
      if (c.at(field) == key) sum += v.get<double>();
    }
  }
  return sum;
}

}  // namespace

TEST_F(CycleCli, ResNet20IsExactAndDeterministic) {
  const fs::path exp = experiment("r20", "resnet20", "vwsdk", kLosslessArch,
                                  "{tech: rram-28nm-survey, schedule_cycles: 40}");
  std::string err;
  ASSERT_TRUE(run_on_one_and_two_threads(
      exp, {"summary.json", "layers.csv", "stats.json", "resolved.yaml", "schedule.yaml"}));
  const fs::path a = run_dir(tmp_ / "a");
  const Json s = Json::parse(slurp(a / "summary.json"));
  EXPECT_TRUE(s["numerical"]["exact"].get<bool>());
  EXPECT_EQ(s["numerical"]["output_max_abs_diff_vs_int_reference"].get<double>(), 0.0);
  int array_layers = 0;
  for (const auto& l : s["layers"]) {
    if (!l.contains("computing_cycles")) continue;
    ++array_layers;
    EXPECT_EQ(l["computing_cycles"], l["analytic_cycles"]) << l["name"];
    EXPECT_TRUE(l["numerical"]["exact"].get<bool>()) << l["name"];
    for (const char* c : {"dac", "array", "adc", "shift_add", "accumulator", "buffer", "router",
                          "programming", "digital", "leakage"})
      EXPECT_TRUE(l["energy_pj"].contains(c)) << c;
  }
  EXPECT_EQ(array_layers, 22);
  EXPECT_GT(s["totals"]["energy_pj"]["total"].get<double>(), 0);
  EXPECT_GT(s["area_mm2"]["total"].get<double>(), 0);
  EXPECT_NE(slurp(a / "schedule.yaml").find("new_rows"), std::string::npos);

  // Re-pricing with another technology changes energy, not events or cycles.
  const fs::path repriced = tmp_ / "repriced.json";
  ASSERT_EQ(run("reprice " + (a / "summary.json").string() + " --tech isaac-rram-32nm -o " +
                    repriced.string(),
                &err),
            0)
      << err;
  const Json r = Json::parse(slurp(repriced));
  EXPECT_EQ(r["tech"], "isaac-rram-32nm");
  EXPECT_EQ(r["totals"]["events"], s["totals"]["events"]);
  EXPECT_EQ(r["totals"]["clock_cycles"], s["totals"]["clock_cycles"]);
  // ISAAC's fixed 1.5625 pJ per conversion vs the survey FoM 10 fJ x 2^9 = 5.12 pJ.
  const double conversions = s["totals"]["events"]["adc_conversions"].get<double>();
  EXPECT_NEAR(s["totals"]["energy_pj"]["adc"].get<double>(), conversions * 5.12,
              conversions * 1e-9);
  EXPECT_NEAR(r["totals"]["energy_pj"]["adc"].get<double>(), conversions * 1.5625,
              conversions * 1e-9);
}

// stats.json holds the counters the engine's blocks own; the summary's events, stalls and
// dynamic energy are sums over them (per layer and for the run).
TEST_F(CycleCli, StatsTreeSumsToTheSummary) {
  const fs::path exp =
      experiment("st", "resnet20", "sdk", kLosslessArch, "{tech: rram-28nm-survey}");
  std::string err;
  ASSERT_EQ(run("run " + exp.string() + " -q -o " + (tmp_ / "st").string(), &err), 0) << err;
  const Json s = summary_of(tmp_ / "st");
  const Json st = Json::parse(slurp(run_dir(tmp_ / "st") / "stats.json"));
  const Json& counters = st.at("counters");
  for (const auto& [key, c] : counters.items()) {
    EXPECT_FALSE(c.at("unit").get<std::string>().empty()) << key;
    EXPECT_FALSE(c.at("description").get<std::string>().empty()) << key;
  }
  const Json& run_tree = st.at("run");
  for (const auto& [ev, n] : s["totals"]["events"].items())
    EXPECT_EQ(tree_sum(run_tree, "chip", counters, "event", ev), n.get<double>()) << ev;
  // adc_share 8: eight columns queue for each ADC, so the run has ADC stalls.
  EXPECT_GT(s["totals"]["stalls"].value("adc_busy", int64_t{0}), 0);
  for (const auto& [cause, clk] : s["totals"]["stalls"].items())
    EXPECT_EQ(tree_sum(run_tree, "chip", counters, "stall", cause), clk.get<double>()) << cause;
  const double dynamic = s["totals"]["energy_pj"]["total"].get<double>() -
                         s["totals"]["energy_pj"]["leakage"].get<double>();
  EXPECT_NEAR(tree_sum(run_tree, "chip", counters, "", ""), dynamic, dynamic * 1e-9);
  const size_t used = run_tree.at("arrays").size();
  EXPECT_GE(used, 1u);
  EXPECT_LE(used, 64u);

  std::map<std::string, Json> layers;
  for (const auto& l : s["layers"]) layers[l["name"].get<std::string>()] = l;
  size_t active = 0;
  for (const auto& [name, l] : layers) {
    bool any = false;
    for (const auto& [ev, n] : l["events"].items()) any = any || n.get<int64_t>() != 0;
    active += any ? 1 : 0;
  }
  ASSERT_EQ(st.at("layers").size(), active);
  for (const auto& t : st.at("layers")) {
    const std::string name = t.at("layer").get<std::string>();
    ASSERT_TRUE(layers.count(name)) << name;
    for (const auto& [ev, n] : layers[name]["events"].items())
      EXPECT_EQ(tree_sum(t.at("chip"), "chip", counters, "event", ev), n.get<double>())
          << name << " " << ev;
    for (const auto& [cause, clk] : layers[name]["stalls"].items())
      EXPECT_EQ(tree_sum(t.at("chip"), "chip", counters, "stall", cause), clk.get<double>())
          << name << " " << cause;
  }
}

TEST_F(CycleCli, LossyChecksAreTheSameOnOneOrTwoThreads) {
  // 8-bit ADCs below the 9-bit lossless bound: the per-layer checks (computed beside the
  // engine on two threads) find errors, and report the same ones as on one thread.
  const fs::path exp =
      experiment("lossy", "resnet20", "sdk",
                 "{rows: 128, cols: 128, cell_bits: 2, weight_bits: 8, input_bits: 8, dac_bits: 1, "
                 "adc_bits: 8, adc_share: 8, arrays: 64}",
                 "{tech: rram-28nm-survey}");
  std::string err;
  ASSERT_TRUE(run_on_one_and_two_threads(exp, {"summary.json", "layers.csv"}));
  const fs::path a = run_dir(tmp_ / "a");
  const Json s = Json::parse(slurp(a / "summary.json"));
  EXPECT_FALSE(s["numerical"]["exact"].get<bool>());
  int inexact = 0;
  for (const auto& l : s["layers"])
    if (l.contains("numerical") && !l["numerical"]["exact"].get<bool>()) {
      ++inexact;
      EXPECT_GT(l["numerical"]["max_abs_error"].get<int64_t>(), 0) << l["name"];
      EXPECT_GT(l["numerical"]["relative_error"].get<double>(), 0) << l["name"];
    }
  EXPECT_GT(inexact, 0);
  // --threads takes 1 or 2.
  EXPECT_EQ(run("run " + exp.string() + " -q --threads 3 -o " + (tmp_ / "c").string(), &err), 2)
      << err;
  EXPECT_NE(err.find("--threads"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(tmp_ / "c"));
}

TEST_F(CycleCli, OneProcessPipelineEqualsStageProcesses) {
  // An array's compute and ADC stages run as one process by default; --stage-processes (and
  // every traced run) steps them as two, one DAC phase at a time. Same clocks, stalls and
  // counters on every layer, on a technology where the DAC phase is the longer stage (ISAAC),
  // one where the ADCs are and the buffers are contended, and one where the shift-add is.
  const std::string timing_rest =
      "t_route: 1, t_accumulate: 1, accumulator_bits: 32, t_program_row: 10, "
      "digital_ops_per_clock: 64";
  const std::vector<std::pair<std::string, std::string>> techs = {
      {"adc-bound",
       "t_dac: 0, t_read: 1, t_adc: 3, t_shift_add: 1, input_bits_per_clock: 96, "
       "output_bits_per_clock: 64, "},
      {"post-bound",
       "t_dac: 1, t_read: 2, t_adc: 1, t_shift_add: 40, input_bits_per_clock: 512, "
       "output_bits_per_clock: 32, "}};
  std::vector<fs::path> exps = {
      experiment("isaac", "resnet20", "vwsdk", kLosslessArch, "{tech: isaac-rram-32nm}")};
  for (const auto& [name, timing] : techs) {
    const fs::path tech = tech_file(name, "clock_ns: 1.0, " + timing + timing_rest);
    exps.push_back(
        experiment(name, "resnet20", "sdk", kLosslessArch, "{tech: " + tech.string() + "}"));
  }
  // Pruned (row-skipping) and group low-rank layers (R and L as one job) on the contended
  // technology of the paper's cycle points.
  const std::vector<std::pair<std::string, std::string>> compressions = {
      {"pruned", "{method: prune, patterns: pat4}"},
      {"lowrank", "{method: group-lowrank, groups: 2, rank: 4}"}};
  for (const auto& [name, compression] : compressions) {
    exps.push_back(experiment(name, "resnet20", "sdk", kLosslessArch, "{tech: rram-28nm-survey}"));
    std::ofstream(exps.back(), std::ios::app) << "compression: " << compression << "\n";
  }
  const std::vector<std::string> files = {"summary.json", "layers.csv", "stats.json",
                                          "resolved.yaml"};
  std::map<std::string, Json> stalls;  // by technology: the run's total stall clocks by cause
  for (const auto& exp : exps) {
    ASSERT_TRUE(runs_agree(exp, "", "--stage-processes", files));
    stalls[exp.stem().string()] = summary_of(tmp_ / "a")["totals"]["stalls"];
  }
  // The contended technologies do stall the stages the one-process model steps together.
  EXPECT_GT(stalls["adc-bound"].value("adc_busy", 0), 0) << stalls["adc-bound"].dump();
  EXPECT_GT(stalls["adc-bound"].value("input_buffer_bandwidth", 0), 0)
      << stalls["adc-bound"].dump();
  EXPECT_GT(stalls["post-bound"].value("shift_add_backlog", 0), 0) << stalls["post-bound"].dump();
  EXPECT_GT(stalls["post-bound"].value("output_buffer_bandwidth", 0), 0)
      << stalls["post-bound"].dump();
  // A traced run steps the stages one by one: the same numbers as the untraced default.
  EXPECT_TRUE(runs_agree(exps[1], "", "--trace", {"summary.json", "layers.csv", "stats.json"}));
}

TEST_F(CycleCli, AnalyticEqualsEngineOnUncontendedConfig) {
  const fs::path tech = uncontended_tech();
  // adc_share 1: conversions never outlast the read; arrays enough to keep weights resident.
  const std::string arch =
      "{rows: 128, cols: 128, cell_bits: 2, weight_bits: 8, input_bits: 8, dac_bits: 1, "
      "adc_bits: 9, adc_share: 1, arrays: 4096}";
  for (const char* workload : {"resnet20", "wrn16_4"}) {
    for (const char* mapper : {"im2col", "sdk", "vwsdk"}) {
      SCOPED_TRACE(std::string(workload) + " " + mapper);
      const fs::path exp = experiment(std::string(workload) + "-" + mapper, workload, mapper, arch,
                                      "{tech: " + tech.string() + ", functional: false}");
      const fs::path out = tmp_ / (std::string("o-") + workload + mapper);
      std::string err;
      ASSERT_EQ(run("run " + exp.string() + " -q -o " + out.string(), &err), 0) << err;
      const Json s = summary_of(out);
      ASSERT_TRUE(s.contains("layers"));
      EXPECT_TRUE(s["weights_resident"].get<bool>());
      for (const auto& l : s["layers"]) {
        if (!l.contains("computing_cycles")) continue;
        EXPECT_EQ(l["computing_cycles"], l["analytic_cycles"]) << l["name"];
        EXPECT_EQ(l["clock_cycles"], l["analytic_clock_cycles"]) << l["name"];
        EXPECT_TRUE(l["stalls"].empty()) << l["name"] << " " << l["stalls"].dump();
      }
    }
  }
}

TEST_F(CycleCli, TraceOpensInWaveformTools) {
  const fs::path exp = experiment("tr", "resnet20", "sdk", kLosslessArch,
                                  "{tech: rram-28nm-survey, trace: {layers: [layers.3.conv1]}}");
  std::string err;
  ASSERT_EQ(run("run " + exp.string() + " -q -o " + (tmp_ / "t").string(), &err), 0) << err;
  const fs::path vcd = run_dir(tmp_ / "t") / "trace.vcd";
  ASSERT_TRUE(fs::exists(vcd));
  const std::string text = slurp(vcd);
  for (const char* sig :
       {"window_x", "dac_phase", "adc_busy", "stall_cause", "input_regs", "outputs"})
    EXPECT_NE(text.find(sig), std::string::npos) << sig;
  EXPECT_NE(text.find("$enddefinitions"), std::string::npos);
  ASSERT_EQ(std::system("command -v vcd2fst >/dev/null 2>&1"), 0)
      << "vcd2fst (Debian package gtkwave, installed by scripts/setup) is needed";
  const fs::path fst = tmp_ / "trace.fst";
  const std::string cmd = "vcd2fst " + vcd.string() + " " + fst.string() + " >/dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_TRUE(fs::exists(fst) && fs::file_size(fst) > 0);
  // No wall-clock date in the header: an identical run gives an identical trace.
  EXPECT_NE(text.find("$date\n     (not recorded"), std::string::npos) << text.substr(0, 120);
  ASSERT_EQ(run("run " + exp.string() + " -q -o " + (tmp_ / "t2").string(), &err), 0) << err;
  EXPECT_EQ(slurp(run_dir(tmp_ / "t2") / "trace.vcd"), text);
}

TEST_F(CycleCli, TrainedResNet20IsExactEndToEnd) {
  const fs::path data = fs::path(IMCSIM_SOURCE_DIR) / "../shared/data/resnet20-cifar10";
  if (!fs::exists(data / "manifest.yaml"))
    GTEST_SKIP() << "trained ResNet-20 weights not present at " << data;
  const fs::path exp =
      experiment("trained", "resnet20", "vwsdk", kLosslessArch,
                 "{tech: isaac-rram-32nm, weights: " + fs::canonical(data).string() + "}");
  std::string err;
  ASSERT_EQ(run("run " + exp.string() + " -q -o " + (tmp_ / "w").string(), &err), 0) << err;
  const Json s = summary_of(tmp_ / "w");
  EXPECT_EQ(s["weights"], "npy");
  EXPECT_TRUE(s["numerical"]["exact"].get<bool>());
  EXPECT_EQ(s["numerical"]["top1_simulated"], s["numerical"]["top1_int_reference"]);
  // 8-bit weights and activations stay close to the float network (ReLU1, logits within +-5).
  EXPECT_LT(s["numerical"]["output_max_abs_diff_vs_float"].get<double>(), 0.5);
}

TEST_F(CycleCli, LowRankLayersRunAsRAndLExactly) {
  const fs::path data = fs::path(IMCSIM_SOURCE_DIR) / "../shared/data/resnet20-cifar10";
  const std::string weights =
      fs::exists(data / "manifest.yaml") ? fs::canonical(data).string() : "";
  const fs::path exp = tmp_ / "lr.yaml";
  std::ofstream(exp) << "name: lr\nworkload: resnet20\narch: " << kLosslessArch
                     << "\nmappers: [sdk]\nmode: cycle\nengine: {tech: rram-28nm-survey}\n"
                     << "compression: {method: group-lowrank, groups: 2, rank: 4"
                     << (weights.empty() ? "" : ", weights: " + weights) << "}\n";
  std::string err;
  ASSERT_EQ(run("run " + exp.string() + " -q -o " + (tmp_ / "o").string(), &err), 0) << err;
  const Json s = summary_of(tmp_ / "o");
  // R's signed outputs feed L: the engine equals the integer reference on every layer.
  EXPECT_TRUE(s["numerical"]["exact"].get<bool>());
  int r_layers = 0;
  for (const auto& l : s["layers"]) {
    const std::string name = l["name"];
    if (name.size() > 2 && name.substr(name.size() - 2) == ".R") ++r_layers;
  }
  EXPECT_EQ(r_layers, 20);  // every conv but the first
  EXPECT_EQ(s["compression"]["layers"].size(), 22u);
  EXPECT_TRUE(s["numerical"].contains("output_max_abs_diff_vs_uncompressed_float"));
}

TEST_F(CycleCli, PrunedLayersSkipRowsAsTheAnalyticPlan) {
  const fs::path exp = tmp_ / "pr.yaml";
  std::ofstream(exp) << "name: pr\nworkload: resnet20\narch: " << kLosslessArch
                     << "\nmappers: [sdk]\nmode: cycle\nengine: {tech: rram-28nm-survey}\n"
                     << "compression: {method: prune, patterns: pat4}\n";
  std::string err;
  ASSERT_EQ(run("run " + exp.string() + " -q -o " + (tmp_ / "o").string(), &err), 0) << err;
  const Json s = summary_of(tmp_ / "o");
  EXPECT_TRUE(s["numerical"]["exact"].get<bool>());
  std::map<std::string, Json> plan;
  for (const auto& c : s["compression"]["layers"]) plan[c["layer"]] = c;
  int pruned = 0;
  for (const auto& l : s["layers"]) {
    if (!l.contains("method") || l["method"].get<std::string>().rfind("prune", 0) != 0) continue;
    ++pruned;
    // The engine's row-skipping tiles activate exactly as often as the analytic plan says.
    EXPECT_EQ(l["computing_cycles"], plan.at(l["name"])["analytic_cycles"]) << l["name"];
    EXPECT_LE(l["computing_cycles"].get<int64_t>(),
              plan.at(l["name"])["analytic_dense_cycles"].get<int64_t>());
  }
  EXPECT_EQ(pruned, 18);  // every 3x3 conv but the first
}
