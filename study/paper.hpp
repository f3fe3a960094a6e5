// Pieces of the paper study (issue 9, scripts/paper-study) that the compression API does
// not expose: the compressed weights W' a method produces (so the reference executor can
// run the compressed network, REFERENCE §13), and activity-based event counts of a mapped
// layer (REFERENCE §11) for methods the cycle-accurate engine cannot execute yet.
//
// Event counts follow the engine's bookkeeping (models/engine.cpp) per tile and window
// position: fetched rows x input bits of buffer reads, one router move per wordline, per DAC
// phase one DAC conversion and wordline activation per driven row, one cell read per mapped
// cell, one ADC conversion and shift-add per physical column, then one accumulator add and
// one buffer write of accumulator_bits per valid output column. For a dense schedule the
// counts equal the engine's exactly (tests/regression/paper_events.cpp checks it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mappers/compress/compress.hpp"
#include "mappers/schedule.hpp"
#include "models/tech.hpp"
#include "workloads/network.hpp"

namespace imcsim::paper {

// ---- compressed weights -----------------------------------------------------------------

// W' = L R of a decomposition as a weight tensor of the original shape (OIHW or OI).
Tensor lowrank_weight(const compress::LowRankFactors& f, const std::vector<int64_t>& shape);

// The weights a compression run `r` (compress_network of `net`, `w`, `spec`) leaves in the
// network: every layer it compressed gets W' (low-rank: L R before BatchNorm folding, so
// the layer's BN still applies as trained; pruning: the pruned tensor), the others keep W.
// W' is rebuilt from the same options and checked against the run: MappingError when
// ||W - W'||_F / ||W||_F differs from the run's rel_error by more than 1e-9.
WeightSet compressed_weights(const Network& net, const WeightSet& w,
                             const compress::CompressionSpec& spec,
                             const compress::CompressionResult& r);

// ---- events ------------------------------------------------------------------------------

struct EventParams {
  int64_t input_bits = 8;
  int64_t phases = 8;           // ceil(input_bits / dac_bits)
  int64_t cols_per_weight = 1;  // physical columns per weight column
  int64_t accumulator_bits = 32;
};

// Events of one schedule; `active` (empty = all) selects tiles by their array index
// row_tile * col_tiles + col_tile of the mapping (grouped low-rank R skips all-zero tiles).
EventCounts schedule_events(const TileSchedule& s, const EventParams& p,
                            const std::vector<char>& active = {});

// Events of a row-skipping layer (REFERENCE §8): the driven (not skipped) rows, per column
// tile as many activations as its row tiles; cells read are the kept weights of every
// duplicate; input fetch reuses the shifted window as the dense SDK router does. Edge
// windows are counted as full (an estimate: the engine cannot execute this layout yet).
EventCounts rowskip_events(const compress::RowSkipMapping& rs, const compress::PrunedWeights& pw,
                           const ConvShape& shape, const EventParams& p);

void add_events(EventCounts& into, const EventCounts& e);

}  // namespace imcsim::paper
