// Mapping and analytic cost of a low-rank / group low-rank layer (REFERENCE §6, §7), and
// the schedules the engine executes for it.
//
// R (K_h x K_w conv IC -> sum of group ranks) takes its window from a window search
// (mappers/search.hpp), the same search a dense layer gets. With input-channel groups each
// group's R (IC/g -> r) is mapped on its own under that window, and groups that fit one
// array are packed side by side on shared arrays (rows and columns disjoint, so one
// activation computes them all); output-channel groups leave R dense. L (1x1 conv -> OC,
// block-diagonal for output-channel groups) is placed one of three ways:
//  - "kron":   I_N (x) L on arrays of its own with R's window: one block per duplicate (and
//              per group), packed diagonally; one activation per window position;
//  - "im2col": L as its own 1x1 layer with im2col tiling over all O_h x O_w outputs, tile
//              pairs holding only zeros of a grouped L never activated;
//  - "idle":   I_N (x) L in the rows and columns R's arrays leave idle, pipelined (window p's
//              activation also evaluates L of window p-1), plus extra arrays for blocks that
//              do not fit and one drain activation per array carrying L; the engine runs it
//              as one job (Engine::run_fused_lowrank) with R's windows requantized for L on
//              the digital units between activations.
// R's window is chosen with L's cost: every window of the search is costed with each
// allowed L placement and the cheapest total wins (then fewer arrays, then search order);
// `auto` takes the cheapest of the three (ties: im2col, kron, idle, the simpler first).
// Every executed cost is the computing cycles of the schedule the engine runs (tiles x
// window positions), so engine and plan agree by construction (tests check it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mappers/compress/layout.hpp"
#include "mappers/compress/lowrank.hpp"
#include "mappers/mapper.hpp"
#include "mappers/schedule.hpp"
#include "mappers/search.hpp"

namespace imcsim::compress {

enum class LPlacement { Auto, Idle, Kron, Im2col };
const char* to_string(LPlacement p);
LPlacement l_placement_from_string(const std::string& s);  // MappingError on a bad name
const std::vector<std::string>& l_placement_names();       // auto, idle, kron, im2col

// What the mapper needs from a decomposition: no weights, so sweeps can cost ranks
// without running an SVD.
struct LowRankStructure {
  GroupAxis axis = GroupAxis::In;
  std::vector<int64_t> sizes;  // channels per group along the axis (sum = IC or OC)
  std::vector<int64_t> ranks;  // rank per group
  int64_t total_rank() const;
  static LowRankStructure of(const LowRankFactors& f);
  static LowRankStructure uniform(int64_t channels, int64_t groups, int64_t rank, GroupAxis axis);
};

// One tile of one group's R layout (row tile rt, column tile ct of that group's mapping).
struct RPiece {
  int64_t group = 0, row_tile = 0, col_tile = 0;
  int64_t rows = 0, cols = 0;  // wordlines and weight columns it occupies
};

// One block of I_N (x) L: duplicate `dup` of R's window, L-group `group` (output-channel
// groups; 0 otherwise) at (row0, col0) of an array.
struct LBlock {
  int64_t array = 0;  // idle: R array index, or r_arrays + k for extra arrays; kron: L array
  int64_t row0 = 0, col0 = 0;
  int64_t dup = 0, group = 0;
  int64_t rows = 0, cols = 0;
};

struct LowRankMapping {
  LayerMapping r;                             // R's window and shape (IC -> total rank)
  std::vector<LayerMapping> r_groups;         // per R group (one entry when R is not split)
  std::vector<std::vector<RPiece>> r_arrays;  // R's arrays, each holding one or more pieces
  int64_t r_cycles = 0;                       // positions x R arrays
  LayerMapping l;                             // L as its own 1x1 layer (im2col)
  int64_t l_im2col_tiles = 0;                 // tiles of L's im2col layout holding a weight
  int64_t cycles_im2col = 0;                  // r_cycles + O_h O_w x l_im2col_tiles
  std::vector<LBlock> l_kron;                 // the kron placement (empty: infeasible)
  int64_t l_kron_arrays = 0;
  int64_t cycles_kron = -1;    // r_cycles + positions x l_kron_arrays (-1: infeasible, or
                               // not costed: placement forced to another one)
  std::vector<LBlock> l_idle;  // the idle placement (empty: infeasible)
  int64_t l_extra_arrays = 0;  // arrays beyond R's in the idle placement
  int64_t cycles_idle = -1;    // r_cycles + drain + extra x positions (-1: infeasible, or
                               // not costed: placement forced to another one)
  LPlacement placement = LPlacement::Im2col;  // the one chosen
  LayerMapping combined;                      // the whole layer for reports (cycles, arrays, util)
  GroupAxis axis = GroupAxis::In;
  std::vector<int64_t> sizes, ranks;  // the structure mapped
};

// `s` is the original layer (groups == 1). MappingError when R or L cannot be mapped, or
// when the asked placement is infeasible for every window. `chip_arrays` > 0: the idle
// placement runs as one job with every R and L tile resident, so it is only feasible where
// R's arrays and L's extra arrays fit the chip (cycle runs pass the chip's arrays; 0 = no
// limit, the paper-level analysis).
LowRankMapping map_lowrank(const ConvShape& s, const LowRankStructure& lr, const ArrayGeometry& a,
                           WindowSearch search, LPlacement placement, int64_t chip_arrays = 0);

// The schedules the engine runs for a mapped layer: R (`r_shape`: the R conv as it runs,
// dense IC -> total rank) and L (`l_shape`: the 1x1 conv total rank -> OC) on arrays of
// `num_arrays`. kron / im2col: two layers whose computing cycles are r_cycles and the
// placement's L cycles. idle (`fused`): one job (Engine::run_fused_lowrank), R's tile i on
// array i and each L tile on the array its `array` names.
struct LowRankSchedules {
  TileSchedule r, l;
  bool fused = false;
};
LowRankSchedules lowrank_schedules(const LowRankMapping& m, const ConvShape& r_shape,
                                   const ConvShape& l_shape, const ArrayGeometry& a,
                                   int64_t num_arrays);

}  // namespace imcsim::compress
