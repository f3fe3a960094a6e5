// Pattern pruning with row skipping, the baseline the paper compares against (REFERENCE §8).
// Every K x K kernel keeps the positions of one pattern of a set. By default the pattern is
// chosen per block = (input channel, block of output channels sharing a column tile) by the
// summed |W| it keeps, so whole rows of the SDK layout become zero and can be skipped;
// per-kernel patterns are an option, and skipping is then computed from the actual zeros.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mappers/mapper.hpp"
#include "mappers/search.hpp"
#include "workloads/weights.hpp"

namespace imcsim::compress {

// A set of K x K 0/1 masks; bit (k_h * K + k_w) of a mask = the position is kept.
struct PatternSet {
  std::string name;  // "pat4", "pat6", "pat8" or "custom"
  int64_t k = 3;
  std::vector<uint32_t> masks;
  int64_t entries() const;  // kept positions per pattern (the same for every built-in set)
};

// Built-in 3x3 sets (choice, after PatDNN / PConv style sets):
//   pat4: the four 2x2 quadrants and the centre with three of its four neighbours (8 patterns);
//   pat6: the 2x3 and 3x2 halves (4 patterns), so a kernel row or column is always empty;
//   pat8: all but one corner (4 patterns).
const std::vector<std::string>& builtin_pattern_sets();
PatternSet builtin_patterns(const std::string& name);  // MappingError on an unknown name
// "110/110/000" (rows separated by '/', or 9 digits) -> mask; MappingError otherwise.
uint32_t parse_pattern(const std::string& text, int64_t k);
std::string pattern_string(uint32_t mask, int64_t k);

enum class PatternScope { Block, Kernel };

struct PruneOptions {
  PatternSet patterns = builtin_patterns("pat4");
  PatternScope scope = PatternScope::Block;
  // Output channels per pattern block; 0 = the im2col column tile, min(OC, AC_eff) (choice:
  // the columns one array holds, REFERENCE §8).
  int64_t block_oc = 0;
  // Index/mux periphery that selects and compacts the driven rows (REFERENCE §8): energy
  // per driven row per activation and area per array row. Choice: no published number fits
  // every technology; set them from your periphery model (0 = not modelled).
  double index_energy_pj_per_row = 0.0;
  double index_area_um2_per_row = 0.0;
};

struct PrunedWeights {
  int64_t oc = 0, ic = 0, k_h = 0, k_w = 0;
  std::vector<uint32_t> nonzero;  // per (oc, ic): kernel positions that are nonzero after pruning
  Tensor weight;                  // pruned weight (OIHW)
  int64_t kept = 0;               // nonzero weights
  double rel_error = 0;           // ||W - W_pruned||_F / ||W||_F
  std::vector<int64_t> pattern_use;  // kernels per pattern of the set
  uint32_t at(int64_t o, int64_t c) const { return nonzero[static_cast<size_t>(o * ic + c)]; }
};

// MappingError when the kernel is not K x K of the set.
PrunedWeights prune_patterns(const Tensor& w, const PruneOptions& o, int64_t block_oc,
                             const std::string& layer);

// PW_h x PW_w pixels covered by the union of the win_h x win_w shifted copies of the kernel
// positions in `mask` (REFERENCE §8: PW_h PW_w - skipped_rows(c)).
int64_t covered_rows(uint32_t mask, int64_t k_h, int64_t k_w, int64_t win_h, int64_t win_w,
                     int64_t s_h, int64_t s_w);

struct RowSkipMapping {
  LayerMapping mapping;     // method "prune-im2col" / "prune-sdk"; cycles with skipping
  int64_t rows_dense = 0;   // wordlines of the unpruned layout, summed over column tiles
  int64_t rows_driven = 0;  // wordlines left after skipping, summed over column tiles
  std::vector<int64_t> row_tiles_per_col_tile;
  double index_energy_pj = 0;  // driven rows x activations x index_energy_pj_per_row
  double index_area_um2 = 0;   // arrays x rows x index_area_um2_per_row
};

// REFERENCE §8 under a window search (mappers/search.hpp): every window the search offers
// a dense layer (square SDK windows within the im2col tile counts, VW-SDK's rectangular
// channel-tiled windows, or both), the output channels tiled channel-aligned
// (OCt = min(OC, floor(AC_eff / N)); VW-SDK: its OCt), and per column tile the rows that
// meet only zeros skipped: flat layouts pack the driven rows AR to an array, channel-tiled
// ones keep a channel's rows together:
//   CC = positions * sum over column tiles of (arrays of its driven rows).
// The window with the fewest cycles wins (ties: fewer arrays, then the search's order).
// With nothing pruned this is the dense mapping of the same search, cycle for cycle (test).
RowSkipMapping map_row_skipping(const ConvShape& s, const PrunedWeights& p, const ArrayGeometry& a,
                                const PruneOptions& o, WindowSearch search);

}  // namespace imcsim::compress
