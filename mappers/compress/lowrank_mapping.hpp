// Mapping and analytic cost of a low-rank / group low-rank layer (REFERENCE §6, §7).
// R (K_h x K_w conv IC -> sum of group ranks) is mapped like any conv by a base mapper
// (im2col, sdk, vwsdk; `auto` tries all three). L (1x1 conv -> OC) is placed either
//  - "idle": as the block-diagonal I_N (x) L of Theorem 2, one block per duplicate, in the
//    rows and columns R's arrays leave idle (rows and columns disjoint from R's, so one
//    activation computes R for window p and L for window p-1); duplicates that do not fit
//    go to extra arrays holding as many blocks as fit, or
//  - "im2col": as its own 1x1 layer with im2col tiling over all O_h x O_w outputs.
// Both are costed; `auto` keeps the one with fewer cycles, then fewer arrays (choice).
// Tile pairs that hold only zeros of a grouped factor are never activated, so the cost of
// group low-rank is counted from the placed blocks, never assumed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mappers/compress/layout.hpp"
#include "mappers/compress/lowrank.hpp"
#include "mappers/mapper.hpp"

namespace imcsim::compress {

enum class LPlacement { Auto, Idle, Im2col };
const char* to_string(LPlacement p);
LPlacement l_placement_from_string(const std::string& s);  // MappingError on a bad name
const std::vector<std::string>& l_placement_names();       // auto, idle, im2col

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

// One block I_d (x) L at (row0, col0) of an array: duplicates dup_begin..+dup_count, each
// a total_rank x OC block stacked diagonally. `array` < r_arrays: one of R's arrays
// (row_tile * col_tiles + col_tile); otherwise extra array number array - r_arrays.
struct LBlock {
  int64_t array = 0;
  int64_t row0 = 0, col0 = 0;
  int64_t dup_begin = 0, dup_count = 0;
};

struct LowRankMapping {
  LayerMapping r;                // R on its arrays (mapper = the base mapper's name)
  TilePlacement r_tiles;         // where R's logical layout sits
  std::vector<char> r_active;    // per R array: holds a nonzero block (grouped R skips others)
  int64_t r_cycles = 0;          // positions x active R arrays
  LayerMapping l;                // L as its own 1x1 layer (im2col), the "im2col" placement
  int64_t l_cycles = 0;          // positions of L x its active tiles
  bool idle_feasible = false;    // one total_rank x OC block fits an array
  std::vector<LBlock> l_blocks;  // the "idle" placement
  int64_t l_extra_arrays = 0;    // arrays beyond R's in the "idle" placement
  int64_t cycles_idle = -1;      // r_cycles + extra arrays x positions + drain (-1: infeasible)
  int64_t cycles_im2col = 0;     // r_cycles + l_cycles
  LPlacement placement = LPlacement::Im2col;  // the one chosen
  LayerMapping combined;         // the whole layer for reports (cycles, arrays, utilization)
};

// `s` is the original layer (groups == 1); `base` maps R (an `auto` base tries im2col, sdk
// and vwsdk for R and keeps the cheapest total). MappingError when R or L cannot be mapped.
LowRankMapping map_lowrank(const ConvShape& s, const LowRankStructure& lr, const ArrayGeometry& a,
                           const MapperInfo& base, LPlacement placement);

}  // namespace imcsim::compress
