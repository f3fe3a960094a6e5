// Running a sweep (DESIGN.md "Scale"): the points of one shard, `jobs` at a time.
// Analytic points run in-process on worker threads (mappers are pure); cycle points run
// one child process each (`imcsim run <point.yaml> -o <dir> -q`: SystemC elaborates once
// per process). Every finished point is one folder DIR/points/<id>/ written into a
// temporary sibling and renamed into place:
//   point.json     id, index, values, status (ok | failed), error, run_id
//   resolved.yaml, summary.json, layers.csv   (as `imcsim run` writes them)
// DIR/sweep.json lists the shard's points and the sweep's fingerprint, which `--resume`
// and `imcsim merge` check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sim/sweep/sweep.hpp"

namespace imcsim {

struct SweepRunOptions {
  std::string out_dir;
  int64_t jobs = 1;
  int64_t shard_k = 0, shard_n = 1;
  bool resume = false;        // keep finished points (ok or failed), run the missing ones
  bool progress_bar = false;  // redraw one line (a terminal); plain lines otherwise
  bool quiet = false;         // no progress lines, only failures
  std::string imcsim_exe;     // binary for cycle points; default: this process's executable
  std::vector<std::string> point_args;  // extra `imcsim run` flags for cycle points (limits)
  int64_t max_points = RunLimits{}.max_points;  // refuse a shard with more points
  int64_t max_disk = RunLimits{}.max_disk;      // refuse a sweep whose folder would be larger
};

// What one point will take: simulation events (cycle points; 0 for analytic points and for
// a point that is invalid, recorded as failed when it runs) and the size of its folder.
struct PointEstimate {
  int64_t events = 0;
  int64_t disk_bytes = 0;
};
// Per point of `points` (analytic: measured folder size per point; cycle: each point's run
// estimate, sim/run/estimate.hpp).
std::vector<PointEstimate> estimate_points(const Sweep& sweep,
                                           const std::vector<SweepPoint>& points);
// The estimated size of the sweep folder: the sum, saturating at INT64_MAX.
int64_t estimate_sweep_disk(const std::vector<PointEstimate>& estimates);

struct SweepRunSummary {
  size_t shard_points = 0;  // points in this shard
  size_t skipped = 0;       // already finished (--resume)
  size_t ran = 0;           // run now
  size_t failed = 0;        // failed now
  double seconds = 0;
  bool interrupted = false;  // SIGINT/SIGTERM: stopped early, rerun with --resume
};

SweepRunSummary run_sweep(const Sweep& sweep, const SweepRunOptions& options);

// Folder of a finished point, and whether DIR holds it.
std::string point_dir(const std::string& out_dir, const std::string& id);
bool point_finished(const std::string& out_dir, const std::string& id);

}  // namespace imcsim
