// Sizing a run before starting it: the work (simulation events), peak memory and output
// size of a cycle-accurate run, estimated from the mapping of every conv/fc layer (the
// same mapper the run uses; compression only lowers them), and of a sweep from its points.
// Above a limit the user can raise (`--max-memory`, `--max-events`, `--max-disk`,
// `--max-points`, or the `limits:` section, sim/config/config_limits.hpp; README "Limits") the run
// is refused with a named error before anything
// is written. Every count is overflow-checked: a count that would not fit is an error too.
#pragma once

#include <cstdint>
#include <string>

#include "sim/config/config.hpp"
#include "workloads/network.hpp"

namespace imcsim {

struct RunEstimate {
  int64_t layers = 0;            // conv/fc layers mapped
  int64_t computing_cycles = 0;  // array activations, whole network
  int64_t events = 0;            // SystemC process activations of the engine
  int64_t memory_bytes = 0;      // peak resident memory
  int64_t disk_bytes = 0;        // the run folder
  double seconds = 0;            // at the engine's typical event rate
};

// A cycle run of `spec` on `net`; `trace` as the run's --trace flag. ConfigError naming the
// experiment and the layer when a count would overflow; an unknown layer in
// engine.trace.layers is a ConfigError too (its trace would be empty).
RunEstimate estimate_cycle_run(const ExperimentSpec& spec, const Network& net, bool trace);
// Refuses an estimate above `limits`: ConfigError naming the file, the quantity, the
// estimate, the limit and the flag that raises it.
void check_estimate(const RunEstimate& e, const RunLimits& limits, const std::string& file);
// "events 1.2e9 (about 3 min), memory 310 MiB, output 2.1 MiB" for --dry-run and messages.
std::string estimate_text(const RunEstimate& e);

}  // namespace imcsim
