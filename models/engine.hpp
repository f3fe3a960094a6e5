// The cycle-accurate engine: a SystemC chip of N arrays (each with input register, SDK
// router, DACs, crossbar, sample-and-hold, shared ADCs, shift-add and a partial-sum path
// to the output buffer) that executes TileSchedules with real integer values.
//
// Timing is event driven: every stage waits a known latency (wait(n x clock)) and only
// waits longer where a real contention exists (shared buffer bandwidth, a busy ADC, a
// full pipeline register); each such wait is counted as a stall with its cause.
// SystemC elaborates once per process: construct one Engine per process.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mappers/schedule.hpp"
#include "models/datapath.hpp"
#include "models/tech.hpp"

namespace imcsim {

struct TraceConfig {
  std::string vcd_path;              // empty: no trace (".vcd" is appended by SystemC if absent)
  std::vector<std::string> layers;   // layers to trace; empty = all
  double from_ns = 0;
  double to_ns = std::numeric_limits<double>::infinity();
};

struct EngineConfig {
  DatapathParams datapath;
  TimingParams timing;
  int64_t cols = 128;        // physical columns per array
  int64_t adc_share = 8;     // columns per ADC
  int64_t num_arrays = 64;
  bool functional = true;    // compute real values (else timing and events only)
  TraceConfig trace;

  int64_t adcs_per_array() const { return (cols + adc_share - 1) / adc_share; }
};

struct LayerRun {
  std::string layer;
  int64_t computing_cycles = 0;  // array activations executed
  int64_t clock_cycles = 0;      // layer start to last output written
  int64_t programming_clocks = 0;
  int rounds = 0;
  EventCounts events{};
  std::map<std::string, int64_t> stalls;  // cause -> clocks, summed over arrays
  int64_t tiles = 0;
  int64_t mapped_cells = 0, used_rows = 0, used_cols = 0;  // over all tiles
};

class Engine {
 public:
  explicit Engine(const EngineConfig& cfg);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Executes one conv/fc layer. `input_codes`: centered codes (code - input_offset), CHW,
  // all input channels of the layer at its unpadded size, each in
  // [-input_offset, 2^input_bits - 1 - input_offset]; the DACs drive code + input_offset
  // (padding: a centered 0, i.e. the offset) and the digital correction subtracts
  // input_offset * (sum of the column's weights) (datapath.hpp, input_offset_correction).
  // input_offset is an activation zero point (0 for unsigned codes). `wq`: int32 OIHW
  // quantized weights; `odd_grid` (empty, or one flag per output channel): the channel's
  // weights are odd multiples held as (q + 2^b - 1) / 2 (datapath.hpp). `out` receives the
  // int64 accumulators, OC x O_h x O_w (untouched when functional is off). `reprogram`:
  // the arrays must be written before the layer (weights not resident).
  LayerRun run_array_layer(const TileSchedule& s, const std::vector<int64_t>& input_codes,
                           const std::vector<int32_t>& wq, std::vector<int64_t>& out,
                           bool reprogram, int64_t input_offset = 0,
                           const std::vector<uint8_t>& odd_grid = {});
  // Digital units (residual add, pooling, activation, requantization): `ops` elements.
  LayerRun run_digital(const std::string& name, int64_t ops);

  int64_t now_clocks() const;
  const EngineConfig& config() const;
  // Closes the trace file; called by the destructor too.
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Uncontended timing model of one layer (REFERENCE §10): the first window fetch and route,
// then per computing cycle `phases x max(t_dac + t_read, conversions x t_adc)` on each
// array, the last conversion, shift-add, accumulate and output write, plus programming.
// Equals the engine's clock cycles when no stage stalls; the engine reports both.
int64_t analytic_layer_clocks(const TileSchedule& s, const EngineConfig& cfg, bool reprogram);

}  // namespace imcsim
