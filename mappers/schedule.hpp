// TileSchedule: how a mapped layer executes on the arrays (REFERENCE §5). Built from a
// LayerMapping, it says for every tile which input pixel each wordline carries and
// which output each weight column produces, which array runs the tile in which
// programming round, and, for every computing cycle (tile x window position), which
// pixels are new (SDK reuse) and where the partial sums go. Pure values: the SystemC
// engine executes them, the analytic model counts them, schedule.yaml prints them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mappers/layer_mapping.hpp"

namespace imcsim {

// Wordline r of a tile carries input channel `c` (within the group) at pixel (ph, pw)
// of the parallel window. `blk`: the block of a block-diagonal layout the row belongs to
// (packed groups of a group low-rank factor); -1 = every block.
struct RowSlot {
  int32_t c = 0, ph = 0, pw = 0;
  int32_t blk = -1;
};

// Weight column j of a tile produces output channel `oc` (within the group) of the
// duplicate whose output sits at (dy, dx) inside the window's win_h x win_w outputs.
// A cell holds a weight only where the row's and the column's blocks agree (or either is -1).
struct ColSlot {
  int32_t dy = 0, dx = 0, oc = 0;
  int32_t blk = -1;
};

struct TileSpec {
  int64_t group = 0, row_tile = 0, col_tile = 0;
  std::vector<RowSlot> rows;      // <= array rows
  std::vector<ColSlot> cols;      // <= weight columns of the array
  int64_t mapped_weights = 0;     // (row, column) pairs holding a kernel weight
  int64_t rows_new_on_shift = 0;  // wordlines whose pixel is new when the window steps right
  int round = 0;                  // programming round (tiles > arrays: arrays are reprogrammed)
  int array = 0;                  // physical array within the round
};

struct TileSchedule {
  std::string layer;
  LayerMapping mapping;
  ArrayGeometry array;
  int64_t pad_h = 0, pad_w = 0;  // top/left padding of the input (framework convention)
  int64_t pos_h = 1, pos_w = 1;  // window positions along height and width
  std::vector<TileSpec> tiles;
  int rounds = 1;

  int64_t positions() const { return pos_h * pos_w; }
  int64_t computing_cycles() const { return positions() * static_cast<int64_t>(tiles.size()); }
  // Wordlines to fetch for a position: all of them at the start of a window row, the new
  // columns of pixels after a step to the right (SDK reuse; REFERENCE §10 "input fetch").
  int64_t rows_to_fetch(const TileSpec& t, int64_t pos_x) const {
    return pos_x == 0 ? static_cast<int64_t>(t.rows.size()) : t.rows_new_on_shift;
  }
  // Weight columns of a tile whose output lies inside the output map at position (py, px)
  // (windows at the right/bottom edge may hang over it).
  int64_t valid_columns(const TileSpec& t, int64_t py, int64_t px) const;
  // Does kernel weight (kh, kw) = (ph - dy*s, pw - dx*s) exist for this row/column pair?
  // (Inline: program_tile asks it for every cell.)
  bool holds_weight(const RowSlot& r, const ColSlot& c) const {
    if (r.blk >= 0 && c.blk >= 0 && r.blk != c.blk) return false;
    const int64_t kh = r.ph - c.dy * mapping.shape.s_h, kw = r.pw - c.dx * mapping.shape.s_w;
    return kh >= 0 && kh < mapping.shape.k_h && kw >= 0 && kw < mapping.shape.k_w;
  }
};

// Builds the schedule of a mapping on `num_arrays` arrays (more tiles than arrays:
// rounds of reprogramming, tiles assigned in order).
TileSchedule make_schedule(const LayerMapping& m, const ArrayGeometry& a, int64_t num_arrays);

// Row skipping (REFERENCE §8) for a channel-aligned square-window layout (a mapping of
// compress::map_row_skipping: oc_tile output channels per column tile, win_h x win_w
// duplicates, window-major columns): per column tile only the wordlines whose pixel meets a
// nonzero weight of the tile are driven, packed `rows` to an array; column tiles may need
// different numbers of row tiles. `nonzero(oc, c, kh, kw)` says which weights survived.
TileSchedule make_row_skip_schedule(
    const LayerMapping& m, const ArrayGeometry& a, int64_t num_arrays,
    const std::function<bool(int64_t oc, int64_t c, int64_t kh, int64_t kw)>& nonzero);

// A schedule of explicitly placed tiles (packed groups, I_N (x) L blocks): checks every
// tile fits, counts mapped weights and reused rows, drops tiles holding no weight and
// assigns the rest to arrays and programming rounds in order.
TileSchedule make_placed_schedule(const LayerMapping& m, const ArrayGeometry& a, int64_t num_arrays,
                                  std::vector<TileSpec> tiles);

// schedule.yaml text: the tiles with their row/column maps summarized and the first
// `max_cycles` computing cycles listed (array, position, tile, new rows, outputs).
std::string schedule_yaml(const std::vector<TileSchedule>& layers, int64_t max_cycles);

}  // namespace imcsim
