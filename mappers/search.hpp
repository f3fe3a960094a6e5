// Window searches: the named rule that decides which parallel windows a layer may use.
// One search applies alike to a dense layer, to the R factor of a low-rank layer (and to
// each group's R), and to a pruned layer before its rows are skipped, so methods compared
// under one search had the same freedom (issue "fair mapping study").
//   im2col: the flat unrolled layout only (REFERENCE §2);
//   sdk:    square windows i x i within the im2col row and column tile counts, flat tiling
//           (REFERENCE §3), i = 1 being im2col;
//   vwsdk:  every feasible rectangular window with input/output channel tiling, and the
//           flat im2col layout (REFERENCE §4);
//   auto:   the union of the three.
// The search's candidates are complete LayerMappings; a client (a dense mapper, R's joint
// search with L, row skipping) chooses among them by its own total cost.
#pragma once

#include <string>
#include <vector>

#include "mappers/layer_mapping.hpp"

namespace imcsim {

enum class WindowSearch { Im2col, Sdk, Vwsdk, Auto };
const char* to_string(WindowSearch w);
// "im2col", "sdk", "vwsdk", "auto" (the mapper names); MappingError otherwise.
WindowSearch window_search_from_string(const std::string& s);

// Every layout the search may choose for one group of `s` (s.groups is kept, so cycles
// count every group). Order: im2col first, then sdk windows by i, then vwsdk windows by
// (i, j); a client breaking ties by order prefers the simpler layout.
std::vector<LayerMapping> window_candidates(const ConvShape& s, const ArrayGeometry& a,
                                            WindowSearch w);

// The candidate with the fewest cycles, then the fewest arrays, then the first.
const LayerMapping& cheapest(const std::vector<LayerMapping>& candidates);

}  // namespace imcsim
