// One analytic experiment run: load the workload, map it with every requested
// mapper, and write resolved.yaml, summary.json and layers.csv into out/<run-id>/.
#pragma once

#include <string>
#include <vector>

#include "mappers/mapper.hpp"
#include "sim/config/config.hpp"
#include "sim/report/report.hpp"

namespace imcsim {

// Stable id of a run: "<name>-<8 hex digits of a hash of resolved.yaml>".
std::string run_id(const ExperimentSpec& spec);

struct RunResult {
  std::string run_id;
  std::string dir;  // folder written (empty when nothing was written)
  std::vector<NetworkMapping> mappings;
  Json summary;
};

// Maps the workload with every mapper of the spec. Nothing is written.
RunResult evaluate_analytic(const ExperimentSpec& spec);
// The same, on a network already loaded from spec.workload_file (sweeps load each once).
RunResult evaluate_analytic(const ExperimentSpec& spec, const Network& net);
// evaluate_analytic + atomic write of the run folder under `output_root`.
RunResult run_analytic(const ExperimentSpec& spec, const std::string& output_root);

}  // namespace imcsim
