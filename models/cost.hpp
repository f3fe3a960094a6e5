// The analytic cost model of a mapped layer (REFERENCE §10, §11): the clocks and the events
// of a tile schedule when no stage stalls. One model for every client: the cycle-accurate
// run reports it beside the engine's measured clocks (sim/run/cycle_run.cpp), the engine
// tests check the engine against it (tests/sim/test_engine_exact.cpp: equal when nothing
// contends; tests/regression/paper_events.cpp: events equal event by event), and the paper
// study prices layouts the engine cannot execute yet with it (study/paper_study.cpp).
//
// Events follow the engine's bookkeeping (models/engine.cpp) per tile and window position:
// fetched rows x input bits of buffer reads, one router move per wordline, per DAC phase one
// DAC conversion and wordline activation per driven row, one cell read per mapped cell, one
// ADC conversion and shift-add per physical column, then one accumulator add and one buffer
// write of accumulator_bits per valid output column. Programming (CellWrite) and the
// digital units (DigitalOp) are not part of a schedule's events.
//
// Plain C++ (no SystemC): the study and the configuration layer use it without the kernel.
#pragma once

#include <cstdint>
#include <vector>

#include "mappers/compress/pruning.hpp"
#include "mappers/schedule.hpp"
#include "models/datapath.hpp"
#include "models/tech.hpp"

namespace imcsim {

// The numbers the model needs, as plain values.
struct CostParams {
  int64_t input_bits = 8;
  int64_t phases = 8;           // ceil(input_bits / dac_bits)
  int64_t cols_per_weight = 1;  // physical columns per weight column
  int64_t adcs_per_array = 16;  // ceil(physical columns / adc_share)
  TimingParams timing;          // latencies, buffer bandwidths, accumulator width

  // From a datapath, its technology timing and the array's ADC count.
  static CostParams of(const DatapathParams& d, const TimingParams& t, int64_t adcs_per_array);
};

// Uncontended clocks of one layer: per round, programming (when `reprogram`, and before
// every round after the first), then the slowest tile of the round: the first window fetch
// and route, per computing cycle `phases x max(t_dac + t_read, conversions x t_adc)`, the
// last conversion, shift-add, accumulate and output write. Equals the engine's clock cycles
// when no stage stalls.
int64_t analytic_clocks(const TileSchedule& s, const CostParams& p, bool reprogram);

// Events of one schedule; `active` (empty = all) selects tiles by their array index
// row_tile * col_tiles + col_tile of the mapping (grouped low-rank R skips all-zero tiles).
EventCounts analytic_events(const TileSchedule& s, const CostParams& p,
                            const std::vector<char>& active = {});

// Events of a row-skipping layer (REFERENCE §8): the driven (not skipped) rows, per column
// tile as many activations as its row tiles; cells read are the kept weights of every
// duplicate; input fetch reuses the shifted window as the dense SDK router does. Edge
// windows are counted as full (an estimate: the engine cannot execute this layout yet).
EventCounts rowskip_events(const compress::RowSkipMapping& rs, const compress::PrunedWeights& pw,
                           const ConvShape& shape, const CostParams& p);

void add_events(EventCounts& into, const EventCounts& e);

}  // namespace imcsim
