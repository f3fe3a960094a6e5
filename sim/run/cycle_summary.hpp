// What a cycle run reports (summary.json, layers.csv): one record per network layer as the
// engine ran it, turned into per-layer rows, totals, utilization, energy and the numerical
// check. Used by run_cycle (cycle_run.cpp) after the engine has finished.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "mappers/compress/compress.hpp"
#include "mappers/schedule.hpp"
#include "models/engine.hpp"
#include "sim/config/config.hpp"
#include "sim/report/report.hpp"
#include "workloads/network.hpp"
#include "workloads/reference.hpp"

namespace imcsim {

struct LayerRecord {
  const Layer* layer = nullptr;
  LayerRun run;      // arrays (conv/fc) or digital units
  LayerRun requant;  // conv/fc: requantization of the outputs on digital units
  const TileSchedule* sched = nullptr;
  int64_t analytic_clocks = 0;
  int64_t analytic_cycles =
      -1;  // a fused R/L pair's plan (R: the pair's, L: 0); else the schedule's
  bool exact = true;
  bool requant_mismatch = false;  // L of a fused job: engine's requantized R != the reference's
  int64_t max_abs_error = 0;
  double mean_abs_error = 0, rel_error = 0;
};

// The per-layer rows of a run and their totals.
struct LayerTable {
  Json layers = Json::array();  // summary.json "layers"
  std::string csv;              // layers.csv
  Json totals;                  // summary.json "totals"
  int64_t computing_cycles = 0, clock_cycles = 0;
  double latency_ns = 0;
  bool all_exact = true;
  int64_t max_abs_error = 0;
};
LayerTable layer_table(const std::vector<LayerRecord>& records, const ArchSpec& arch,
                       const EnergyTable& table, double clock_ns);

// summary.json "arch" and "area_mm2": the machine the run simulated.
Json arch_json(const ArchSpec& arch, const EngineConfig& cfg);
Json area_json(const ArchSpec& arch, const AreaTable& area, int64_t adcs_per_array);

// The network outputs a run compares: the engine's and the plain references'.
struct RunOutputs {
  const ref::IntRun* simulated = nullptr;
  const ref::FloatTensor* int_reference = nullptr;
  const ref::FloatTensor* float_reference = nullptr;
  const ref::FloatTensor* uncompressed = nullptr;  // the uncompressed network in float, if any
};
// summary.json "numerical": the end-to-end check of the simulated output.
Json numerical_json(const LayerTable& t, const RunOutputs& out);

// summary.json "compression": each compressed layer's plan beside what the engine ran (R and
// L, or the pruned layer, computing cycles summed); `layers` holds the plan's rows.
Json compression_summary(const compress::Method method, Json layers,
                         const std::vector<std::string>& notes,
                         const std::vector<LayerRecord>& records);

// The integer reference's output of a run at the lossless ADC bound, where no reference pass
// ran beside the engine. When every layer was exact, by induction over the layers each
// layer's input codes were the reference's and the simulated output is the reference output;
// a run without values (functional off) has nothing to compare either. Otherwise (an engine
// defect, which the summary reports layer by layer) `reference_pass()` runs the pass now.
ref::FloatTensor lossless_reference_output(const std::vector<LayerRecord>& records, bool functional,
                                           const ref::FloatTensor& simulated,
                                           const std::function<ref::FloatTensor()>& reference_pass);

}  // namespace imcsim
