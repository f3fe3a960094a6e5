// A cycle-accurate run (`mode: cycle`): the workload's conv/fc layers execute on the
// SystemC engine with real integer values, layer by layer through the reference
// executor (whose digital units do residual adds, pooling and requantization), and the
// run folder gets resolved.yaml, summary.json, layers.csv and optionally schedule.yaml
// and trace.vcd. One run per process (SystemC elaborates once).
#pragma once

#include <string>

#include "models/engine.hpp"
#include "sim/config/config.hpp"
#include "sim/report/report.hpp"
#include "sim/run/run.hpp"

namespace imcsim {

struct CycleOptions {
  bool quiet = false;  // no progress lines on stderr
  bool trace = false;  // force a VCD trace (as `engine.trace: true`)
  // Threads the run uses: 2 runs the reference passes and the per-layer checks beside the
  // engine (sim/run/background.hpp), 1 after each step on the engine's thread. The outputs are
  // the same.
  int threads = 2;
  // Every stage of an array pipeline as its own process (EngineConfig::stage_processes).
  bool stage_processes = false;
};

// CycleOptions::threads by default: 2 where the process may use two or more cores
// (usable_cores, sim/run/background.hpp), else 1.
int default_run_threads();

RunResult run_cycle(const ExperimentSpec& spec, const std::string& output_root,
                    const CycleOptions& options);

// The engine configuration of an architecture and an `engine:` section (no trace).
EngineConfig engine_config(const ArchSpec& arch, const EngineSpec& engine);

}  // namespace imcsim
