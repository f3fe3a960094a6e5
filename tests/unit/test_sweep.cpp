// Sweep expansion (sim/sweep/sweep.hpp): product order, ranges, zip, exclude, stable ids,
// errors that name file, line and key, and the experiment of one point.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "sim/sweep/sweep.hpp"

using namespace imcsim;
namespace fs = std::filesystem;

namespace {

const std::string kBase =
    "name: t\n"
    "workload: resnet20\n"
    "arch: {rows: 128, cols: 128}\n"
    "mappers: [vwsdk]\n";

Sweep sweep_of(const std::string& section) {
  return parse_sweep(kBase + section, "exp.yaml");
}

std::vector<std::vector<std::string>> labels(const Sweep& sw) {
  std::vector<std::vector<std::string>> out;
  for (const auto& p : sw.points) out.push_back(p.labels);
  return out;
}

std::string error_of(const std::string& section) {
  try {
    sweep_of(section);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(SweepExpansion, FullProductLastAxisFastest) {
  const Sweep sw = sweep_of(
      "sweep:\n"
      "  axes:\n"
      "    arch.rows: [64, 128]\n"
      "    mappers: [im2col, sdk, vwsdk]\n");
  ASSERT_EQ(sw.axes.size(), 2u);
  EXPECT_EQ(sw.axes[0].key, "arch.rows");
  EXPECT_EQ(sw.axes[0].line, 7);
  const std::vector<std::vector<std::string>> want = {{"64", "im2col"}, {"64", "sdk"},
                                                      {"64", "vwsdk"},  {"128", "im2col"},
                                                      {"128", "sdk"},   {"128", "vwsdk"}};
  EXPECT_EQ(labels(sw), want);
  for (size_t i = 0; i < sw.points.size(); ++i) EXPECT_EQ(sw.points[i].index, i);
  EXPECT_EQ(sw.mode, SweepMode::Analytic);
}

TEST(SweepExpansion, IntegerAndFloatRanges) {
  const Sweep sw = sweep_of(
      "sweep:\n"
      "  axes:\n"
      "    compression.rank: {from: 2, to: 16, step: 2}\n"
      "    x.down: {from: 8, to: 1, step: -3}\n"
      "    x.frac: {from: 0.1, to: 0.3, step: 0.1}\n"
      "    x.one: {from: 5, to: 5}\n");
  EXPECT_EQ(sw.axes[0].labels,
            (std::vector<std::string>{"2", "4", "6", "8", "10", "12", "14", "16"}));
  EXPECT_EQ(sw.axes[1].labels, (std::vector<std::string>{"8", "5", "2"}));
  EXPECT_EQ(sw.axes[2].labels, (std::vector<std::string>{"0.1", "0.2", "0.30000000000000004"}));
  EXPECT_EQ(sw.axes[3].labels, (std::vector<std::string>{"5"}));
  EXPECT_EQ(sw.points.size(), 8u * 3u * 3u * 1u);
}

TEST(SweepExpansion, ZipMovesAxesTogether) {
  const Sweep sw = sweep_of(
      "sweep:\n"
      "  axes:\n"
      "    workload: [resnet20, wrn16_4]\n"
      "    arch.rows: [64, 128, 256]\n"
      "    arch.adc_bits: [4, 8]\n"
      "    arch.cols: [32, 64, 128]\n"
      "  zip: [[arch.rows, arch.cols]]\n");
  ASSERT_EQ(sw.points.size(), 2u * 3u * 2u);
  // The group takes the place of arch.rows; arch.adc_bits moves fastest.
  EXPECT_EQ(sw.points[0].labels, (std::vector<std::string>{"resnet20", "64", "4", "32"}));
  EXPECT_EQ(sw.points[1].labels, (std::vector<std::string>{"resnet20", "64", "8", "32"}));
  EXPECT_EQ(sw.points[2].labels, (std::vector<std::string>{"resnet20", "128", "4", "64"}));
  for (const auto& p : sw.points)
    EXPECT_EQ(std::stoi(p.labels[1]), 2 * std::stoi(p.labels[3])) << p.id;
}

TEST(SweepExpansion, ExcludeDropsMatchingPoints) {
  const Sweep sw = sweep_of(
      "sweep:\n"
      "  axes:\n"
      "    workload: [resnet20, wrn16_4]\n"
      "    arch.rows: [64, 128, 256]\n"
      "    arch.adc_bits: {from: 4, to: 8, step: 4}\n"
      "  exclude:\n"
      "    - {workload: wrn16_4, arch.rows: [64, 128]}\n"
      "    - {arch.adc_bits: 4.0, arch.rows: 256}\n");
  std::set<std::vector<std::string>> got;
  for (const auto& p : sw.points) got.insert(p.labels);
  std::set<std::vector<std::string>> want;
  for (std::string w : {"resnet20", "wrn16_4"})
    for (std::string r : {"64", "128", "256"})
      for (std::string a : {"4", "8"}) {
        if (w == "wrn16_4" && r != "256") continue;
        if (a == "4" && r == "256") continue;  // 4.0 matches the integer 4
        want.insert({w, r, a});
      }
  EXPECT_EQ(got, want);
  for (size_t i = 0; i < sw.points.size(); ++i) EXPECT_EQ(sw.points[i].index, i);
}

TEST(SweepExpansion, IdsComeFromTheValuesOnly) {
  const Sweep a =
      sweep_of("sweep:\n  axes:\n    arch.rows: [64, 128]\n    mappers: [sdk, vwsdk]\n");
  const Sweep b =
      sweep_of("sweep:\n  axes:\n    mappers: [vwsdk, sdk]\n    arch.rows: [128, 64, 256]\n");
  std::map<std::string, std::string> ids_a, ids_b;
  for (const auto& p : a.points) ids_a[p.labels[0] + "/" + p.labels[1]] = p.id;
  for (const auto& p : b.points) ids_b[p.labels[1] + "/" + p.labels[0]] = p.id;
  std::set<std::string> distinct;
  for (const auto& [values, id] : ids_a) {
    EXPECT_EQ(id.size(), 16u);
    EXPECT_EQ(ids_b.at(values), id) << values;  // same values, same id, whatever the order
    distinct.insert(id);
  }
  EXPECT_EQ(distinct.size(), ids_a.size());
  // Expanding the same text twice gives the same list and fingerprint.
  const Sweep again =
      sweep_of("sweep:\n  axes:\n    arch.rows: [64, 128]\n    mappers: [sdk, vwsdk]\n");
  EXPECT_EQ(again.fingerprint, a.fingerprint);
  EXPECT_NE(b.fingerprint, a.fingerprint);
}

TEST(SweepExpansion, ShardsPartitionThePoints) {
  const Sweep sw = sweep_of("sweep:\n  axes:\n    arch.rows: {from: 16, to: 512, step: 16}\n");
  std::multiset<std::string> seen;
  for (int64_t k = 0; k < 3; ++k)
    for (const auto& p : shard_points(sw, k, 3)) {
      EXPECT_EQ(static_cast<int64_t>(p.index % 3), k);
      seen.insert(p.id);
    }
  std::multiset<std::string> all;
  for (const auto& p : sw.points) all.insert(p.id);
  EXPECT_EQ(seen, all);
}

TEST(SweepErrors, NameFileLineAndKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"sweep:\n  axes:\n    arch.rows: []\n",
       "exp.yaml:7: sweep.axes.arch.rows: expected a non-empty list of values"},
      {"sweep:\n  axes:\n    arch.rows: 128\n",
       "exp.yaml:7: sweep.axes.arch.rows: expected a list of values or a range"},
      {"sweep:\n  axes:\n    arch.rows: {from: 8, to: 4}\n",
       "exp.yaml:7: sweep.axes.arch.rows.to: empty range: from 8 to 4 with step 1"},
      {"sweep:\n  axes:\n    arch.rows: {from: 4, to: 8, step: 0}\n",
       "exp.yaml:7: sweep.axes.arch.rows.step: expected a nonzero step"},
      {"sweep:\n  axes:\n    arch.rows: {from: 4, upto: 8}\n",
       "exp.yaml:7: sweep.axes.arch.rows.upto: unknown key"},
      {"sweep:\n  axes:\n    arch.rows: {from: four, to: 8}\n",
       "exp.yaml:7: sweep.axes.arch.rows.from: expected a number"},
      {"sweep:\n  axes:\n    arch.rows: [64,\n      128, 64]\n",
       "exp.yaml:8: sweep.axes.arch.rows[2]: value 64 listed twice"},
      {"sweep:\n  axes:\n    arch.rows: [64]\n    arch.rows: [128]\n",
       "exp.yaml:8: sweep.axes.arch.rows: duplicate key"},
      {"sweep:\n  axes:\n    arch: [a.yaml]\n    arch.rows: [64]\n",
       "exp.yaml:8: sweep.axes.arch.rows: overlaps axis arch (line 7)"},
      {"sweep:\n  axes:\n    sweep.mode: [cycle]\n",
       "exp.yaml:7: sweep.axes.sweep.mode: the sweep section cannot be swept"},
      {"sweep:\n  axes:\n    arch..rows: [1]\n",
       "exp.yaml:7: sweep.axes.arch..rows: expected an axis key"},
      {"sweep:\n  axes: {}\n", "exp.yaml:6: sweep.axes: expected at least one axis"},
      {"sweep:\n  axis:\n    arch.rows: [64]\n", "exp.yaml:7: sweep.axis: unknown key"},
      {"sweep:\n  mode: fast\n  axes:\n    arch.rows: [64]\n",
       "exp.yaml:6: sweep.mode: expected one of analytic or cycle, got \"fast\""},
      {"sweep:\n  axes:\n    arch.rows: [64, 128]\n  zip: [[arch.rows, arch.cols]]\n",
       "exp.yaml:8: sweep.zip[0][1]: \"arch.cols\" is not an axis (axes: arch.rows)"},
      {"sweep:\n  axes:\n    arch.rows: [64, 128]\n    arch.cols: [64]\n  zip:\n    - "
       "[arch.rows,\n       arch.cols]\n",
       "exp.yaml:11: sweep.zip[0][1]: axis arch.cols has 1 values but arch.rows has 2"},
      {"sweep:\n  axes:\n    arch.rows: [64, 128]\n  zip: [[arch.rows]]\n",
       "exp.yaml:8: sweep.zip[0]: expected a list of at least two axes"},
      {"sweep:\n  axes:\n    arch.rows: [64, 128]\n  exclude:\n    - {arch.rows: 96}\n",
       "exp.yaml:9: sweep.exclude[0].arch.rows: 96 is not a value of axis arch.rows"},
      {"sweep:\n  axes:\n    arch.rows: [64, 128]\n  exclude:\n    - {arch.cols: 64}\n",
       "exp.yaml:9: sweep.exclude[0].arch.cols: not an axis of this sweep"},
      {"sweep:\n  axes:\n    arch.rows: [64, 128]\n  exclude:\n    - {arch.rows: [64, 128]}\n",
       "exp.yaml:9: sweep.exclude: every point is excluded: the sweep has no points"},
      {"mode: cycle\nsweep:\n  mode: analytic\n  axes:\n    arch.rows: [64]\n",
       "exp.yaml:7: sweep.mode: cycle experiments run one process per point"},
      {"", "exp.yaml:1: no `sweep:` section"},
      {"sweep:\n  axes:\n    a: {from: 1, to: 1000}\n    b: {from: 1, to: 1000}\n    c: {from: 1, "
       "to: 1000}\n",
       "exp.yaml:7: sweep.axes: the sweep has more than 10000000 points"},
  };
  for (const auto& [section, want] : cases) {
    const std::string got = error_of(section);
    EXPECT_EQ(got.substr(0, want.size()), want) << section;
  }
}

TEST(SweepPoints, ValuesLandInTheExperimentTree) {
  const Sweep sw = sweep_of(
      "sweep:\n"
      "  axes:\n"
      "    arch.rows: [64, 256]\n"
      "    arch.adc_bits: {from: 5, to: 6}\n"
      "    mappers: [[im2col, sdk], auto]\n");
  ASSERT_EQ(sw.points.size(), 8u);
  const ExperimentSpec e = point_spec(sw, sw.points[0]);
  EXPECT_EQ(e.arch.rows, 64);
  EXPECT_EQ(e.arch.cols, 128);
  EXPECT_EQ(e.arch.adc_bits, 5);
  EXPECT_EQ(e.mappers, (std::vector<std::string>{"im2col", "sdk"}));
  const ExperimentSpec last = point_spec(sw, sw.points.back());
  EXPECT_EQ(last.arch.rows, 256);
  EXPECT_EQ(last.arch.adc_bits, 6);
  EXPECT_EQ(last.mappers, (std::vector<std::string>{"auto"}));
  EXPECT_EQ(sw.points[0].labels[2], "[im2col, sdk]");
}

TEST(SweepPoints, InvalidValueNamesItsLineInTheSweep) {
  const Sweep sw = sweep_of(
      "sweep:\n"
      "  axes:\n"
      "    arch.adc_share: [8,\n"
      "       256]\n"
      "    arch.adc_bits: {from: 15, to: 17}\n");
  try {
    point_spec(sw, sw.points[2]);  // adc_bits 17
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).substr(0, 44), "exp.yaml:9: arch.adc_bits: expected an integ");
  }
  try {
    point_spec(sw, sw.points[3]);  // adc_share 256 > cols 128
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "exp.yaml:8: arch.adc_share: expected at most cols (128) columns per ADC, got 256");
  }
}

TEST(SweepPoints, KeysInsideAnArchitectureFileAreSweepable) {
  const fs::path dir =
      fs::temp_directory_path() / ("imcsim-sweep-arch-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "a.yaml") << "arch:\n  name: mine\n  rows: 256\n  cols: 64\n  adc_bits: 6\n";
  const std::string text =
      "workload: resnet20\narch: a.yaml\nmappers: [vwsdk]\n"
      "sweep:\n  axes:\n    arch.cols: [128, 512]\n";
  const Sweep sw = parse_sweep(text, (dir / "exp.yaml").string());
  const ExperimentSpec e = point_spec(sw, sw.points[1]);
  EXPECT_EQ(e.arch.name, "mine");
  EXPECT_EQ(e.arch.rows, 256);
  EXPECT_EQ(e.arch.cols, 512);
  EXPECT_EQ(e.arch.adc_bits, 6);
  fs::remove_all(dir);
}
