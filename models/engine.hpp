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
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mappers/schedule.hpp"
#include "models/cost.hpp"
#include "models/datapath.hpp"
#include "models/stats.hpp"
#include "models/tech.hpp"

namespace imcsim {

struct TraceConfig {
  std::string vcd_path;             // empty: no trace (".vcd" is appended by SystemC if absent)
  std::vector<std::string> layers;  // layers to trace; empty = all
  double from_ns = 0;
  double to_ns = std::numeric_limits<double>::infinity();
};

struct EngineConfig {
  DatapathParams datapath;
  TimingParams timing;
  int64_t cols = 128;     // physical columns per array
  int64_t adc_share = 8;  // columns per ADC
  int64_t num_arrays = 64;
  bool functional = true;  // compute real values (else timing and events only)
  // Host threads a layer may use: with 2, an array layer's values are computed on a second
  // thread while its timing is simulated (the same numbers: they do not depend on timing).
  int threads = 1;
  // Every pipeline stage of an array as its own SystemC process, one DAC phase at a time,
  // also when untraced (traced runs always are): the reference the default model (an
  // array's compute and ADC stages in one process, the same clocks and counters) is checked
  // against, slower.
  bool stage_processes = false;
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
  // The blocks' counters of this layer (models/stats.hpp): events and stalls are its sums.
  StatNode stats;
};

// A low-rank layer with L in R's idle cells (l_placement idle, mappers/compress/
// lowrank_mapping.hpp), executed as one job: R's tiles on arrays 0.. (tile i on array i)
// and L's I_N (x) L tiles on the arrays their `array` names (an R array, sharing its
// activations, or an array of their own). Activation k of an R array drives R's rows with
// window k and L's rows with window k-1's requantized R outputs (one more activation drains
// the last window); an L-only array evaluates L of window k at its activation k. Once every
// R tile has written a window, the digital units requantize it (values /
// digital_ops_per_clock clocks); L rows waiting for it stall ("requantization").
struct FusedLowRank {
  const TileSchedule* r = nullptr;
  const TileSchedule* l = nullptr;
  const std::vector<int64_t>* r_input = nullptr;  // centered codes of R's input (CHW)
  const std::vector<int32_t>* r_wq = nullptr;     // R's quantized weights (OIHW)
  const std::vector<int32_t>* l_wq = nullptr;     // L's quantized weights (OIHW, 1x1)
  int64_t r_offset = 0, l_offset = 0;             // zero points of R's and L's inputs
  std::vector<uint8_t> r_odd, l_odd;              // odd-grid flags per output channel, or empty
  // R's accumulators of one output pixel (one per R output channel) -> L's centered input
  // codes of that pixel.
  std::function<void(const int64_t* acc, int64_t* codes)> requant;
};
struct FusedRun {
  LayerRun run;
  std::vector<int64_t> r_out;    // R's accumulators, T x O_h x O_w
  std::vector<int64_t> l_input;  // L's centered input codes as the requantization produced them
  std::vector<int64_t> l_out;    // L's accumulators, OC x O_h x O_w
};

// The cells of every tile of a layer, as run_array_layer programs them (unit weights when
// cfg.functional is off: only the mapped-cell counts matter then). A plain function of its
// arguments: safe to call on another thread while the engine runs.
std::vector<TileCells> program_layer(const TileSchedule& s, const std::vector<int32_t>& wq,
                                     const std::vector<uint8_t>& odd_grid, const EngineConfig& cfg);

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
  // `programmed` (optional): the layer's tiles as program_layer gives them for the same
  // weights (programmed ahead, e.g. on another thread); moved from.
  LayerRun run_array_layer(const TileSchedule& s, const std::vector<int64_t>& input_codes,
                           const std::vector<int32_t>& wq, std::vector<int64_t>& out,
                           bool reprogram, int64_t input_offset = 0,
                           const std::vector<uint8_t>& odd_grid = {},
                           std::vector<TileCells>* programmed = nullptr);
  // One low-rank layer with L in R's idle cells (FusedLowRank); every tile must fit the chip
  // at once. computing_cycles = R arrays x positions + R arrays carrying L + L-only arrays x
  // positions, the idle placement's analytic cost.
  FusedRun run_fused_lowrank(const FusedLowRank& job, bool reprogram);
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

// The analytic cost model's parameters of an engine configuration (models/cost.hpp).
inline CostParams cost_params(const EngineConfig& cfg) {
  return CostParams::of(cfg.datapath, cfg.timing, cfg.adcs_per_array());
}

}  // namespace imcsim
