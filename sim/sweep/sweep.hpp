// Design-space sweeps: the `sweep:` section of an experiment YAML and its expansion
// into a deterministic list of points.
//
//   sweep:
//     mode: analytic              # analytic (in-process) | cycle (one process per point);
//                                 # default: cycle when the experiment's mode is cycle
//     axes:                       # file order = product order, the last axis moves fastest
//       arch.rows: [64, 128, 256]
//       arch.cols: [64, 128, 256]
//       arch.adc_bits: {from: 4, to: 8, step: 2}   # inclusive range, step defaults to 1
//       workload: [resnet20, wrn16_4]
//     zip: [[arch.rows, arch.cols]]                # axes that move together
//     exclude:                                     # a point matching every key is dropped
//       - {workload: wrn16_4, arch.rows: [64, 128]}
//
// An axis key is a dotted path into the experiment tree (arch.rows, compression.rank, ...).
// A point's experiment is the experiment YAML with the point's value nodes put at those
// paths, validated by the ordinary parse_experiment: errors still name the file, the line
// of the value in the sweep section, and the key. Sections added to the experiment later
// are sweepable without changes here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sim/config/config.hpp"
#include "workloads/yaml_reader.hpp"

namespace imcsim {

enum class SweepMode { Analytic, Cycle };
std::string to_string(SweepMode mode);

struct SweepAxis {
  std::string key;                  // dotted path: arch.rows
  int line = 0;                     // line of the axis in the experiment file
  bool is_range = false;            // {from, to, step}: values are generated
  std::vector<std::string> labels;  // canonical text of every value (ids, CSV, exclude)
};

struct SweepPoint {
  size_t index = 0;                 // position in the expanded list (merge order, shards)
  std::string id;                   // 16 hex digits of a hash of the (key, value) pairs
  std::vector<size_t> choice;       // value index per axis
  std::vector<std::string> labels;  // value label per axis
};

struct Sweep {
  std::string file;  // experiment file
  std::string text;  // its contents (each point re-reads it, so marks stay exact)
  std::string name;  // experiment name (the `name` key, or the file stem)
  std::string
      output_dir;  // the experiment's output_dir (default folder: <output_dir>/<name>-sweep)
  SweepMode mode = SweepMode::Analytic;
  std::vector<SweepAxis> axes;
  std::vector<SweepPoint> points;
  RunLimits limits;  // the experiment's `limits:` (max_points, max_disk apply to the sweep)
  // Hash of the experiment text and the point ids: shards and resumed runs must agree.
  std::string fingerprint;
};

// Reads and expands the sweep of an experiment file. ConfigError (file, line, key) on a
// malformed sweep section, on a sweep with no points, or on a file without `sweep:`.
// `max_points`: a sweep whose product has more points is refused before any point is built
// (the default is the hard cap; shards are limited further by --max-points).
constexpr size_t kSweepPointCap = 10000000;
Sweep load_sweep(const std::string& file);
Sweep parse_sweep(const std::string& text, const std::string& file,
                  size_t max_points = kSweepPointCap);

// The experiment tree of one point: `sweep:` removed, the point's values in place.
YamlNode point_tree(const Sweep& sweep, const SweepPoint& point);
// point_tree + parse_experiment: ConfigError/WorkloadError when the point is invalid.
ExperimentSpec point_spec(const Sweep& sweep, const SweepPoint& point);

// Points of shard k of n: every point whose index is k modulo n.
std::vector<SweepPoint> shard_points(const Sweep& sweep, int64_t shard_k, int64_t shard_n);

// 64-bit FNV-1a as 16 hex digits (ids and fingerprints; the same on every machine).
std::string hash_hex(const std::string& text);

}  // namespace imcsim
