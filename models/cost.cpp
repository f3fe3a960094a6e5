#include "models/cost.hpp"

#include <algorithm>
#include <cmath>

namespace imcsim {

using compress::PrunedWeights;
using compress::RowSkipMapping;

namespace {

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

void count(EventCounts& e, Event ev, int64_t n) {
  e[static_cast<size_t>(ev)] += n;
}

}  // namespace

CostParams CostParams::of(const DatapathParams& d, const TimingParams& t, int64_t adcs_per_array) {
  CostParams p;
  p.input_bits = d.input_bits;
  p.phases = d.phases();
  p.cols_per_weight = d.cols_per_weight();
  p.adcs_per_array = adcs_per_array;
  p.timing = t;
  return p;
}

int64_t analytic_clocks(const TileSchedule& s, const CostParams& p, bool reprogram) {
  const TimingParams& t = p.timing;
  const int64_t read = t.t_dac + t.t_read;
  int64_t total = 0;
  for (int round = 0; round < s.rounds; ++round) {
    int64_t program_rows = 0, round_clocks = 0;
    for (const auto& tile : s.tiles) {
      if (tile.round != round) continue;
      const int64_t rows = static_cast<int64_t>(tile.rows.size());
      program_rows = std::max(program_rows, rows);
      const int64_t phys = static_cast<int64_t>(tile.cols.size()) * p.cols_per_weight;
      const int64_t adc = ceil_div(phys, p.adcs_per_array) * t.t_adc;
      const int64_t first_fetch = ceil_div(rows * p.input_bits, t.input_bits_per_clock) + t.t_route;
      const int64_t n = s.positions() * p.phases;  // phases through the crossbar and ADCs
      const int64_t last_write =
          ceil_div(s.valid_columns(tile, s.pos_h - 1, s.pos_w - 1) * t.accumulator_bits,
                   t.output_bits_per_clock);
      const int64_t clocks = first_fetch + read + adc + (n - 1) * std::max(read, adc) +
                             t.t_shift_add + t.t_accumulate + last_write;
      round_clocks = std::max(round_clocks, clocks);
    }
    if (reprogram || round > 0) total += program_rows * t.t_program_row;
    total += round_clocks;
  }
  return total;
}

EventCounts analytic_events(const TileSchedule& s, const CostParams& p,
                            const std::vector<char>& active) {
  EventCounts e{};
  const int64_t col_tiles = s.mapping.col_tiles;
  const int64_t acc_bits = p.timing.accumulator_bits;
  for (const TileSpec& t : s.tiles) {
    const int64_t idx = t.row_tile * col_tiles + t.col_tile;
    if (!active.empty() &&
        (idx >= static_cast<int64_t>(active.size()) || !active[static_cast<size_t>(idx)]))
      continue;
    const int64_t rows = static_cast<int64_t>(t.rows.size());
    const int64_t phys = static_cast<int64_t>(t.cols.size()) * p.cols_per_weight;
    const int64_t mapped = t.mapped_weights * p.cols_per_weight;
    for (int64_t py = 0; py < s.pos_h; ++py) {
      for (int64_t px = 0; px < s.pos_w; ++px) {
        count(e, Event::BufferReadBit, s.rows_to_fetch(t, px) * p.input_bits);
        count(e, Event::RouterPixel, rows);
        count(e, Event::DacConversion, rows * p.phases);
        count(e, Event::WordlineActivation, rows * p.phases);
        count(e, Event::CellRead, mapped * p.phases);
        count(e, Event::AdcConversion, phys * p.phases);
        count(e, Event::ShiftAdd, phys * p.phases);
        const int64_t valid = s.valid_columns(t, py, px);
        count(e, Event::AccumulatorAdd, valid);
        count(e, Event::BufferWriteBit, valid * acc_bits);
      }
    }
  }
  return e;
}

EventCounts rowskip_events(const RowSkipMapping& rs, const PrunedWeights& pw,
                           const ConvShape& shape, const CostParams& p) {
  const LayerMapping& m = rs.mapping;
  EventCounts e{};
  const int64_t positions = m.positions;
  const int64_t n_dup = m.duplicates();
  const int64_t pos_w = (shape.o_w + m.win_w - 1) / m.win_w;
  // Output columns activated: per column tile N x (its output channels), once per row tile.
  int64_t col_activations = 0;
  for (int64_t ct = 0; ct < m.col_tiles; ++ct) {
    const int64_t oc = std::min(m.oc_tile, shape.oc - ct * m.oc_tile);
    col_activations += rs.row_tiles_per_col_tile[static_cast<size_t>(ct)] * n_dup * oc;
  }
  // SDK reuse: after a step right only min(PW_w, win_w * s_w) of PW_w pixel columns are new.
  const double new_frac =
      static_cast<double>(std::min(m.pw_w, m.win_w * shape.s_w)) / static_cast<double>(m.pw_w);
  const double fetch_rows_per_row_of_windows =
      static_cast<double>(rs.rows_driven) * (1.0 + static_cast<double>(pos_w - 1) * new_frac);
  const int64_t window_rows = positions / pos_w;
  count(e, Event::BufferReadBit,
        static_cast<int64_t>(
            std::llround(fetch_rows_per_row_of_windows * static_cast<double>(window_rows))) *
            p.input_bits);
  count(e, Event::RouterPixel, positions * rs.rows_driven);
  count(e, Event::DacConversion, positions * rs.rows_driven * p.phases);
  count(e, Event::WordlineActivation, positions * rs.rows_driven * p.phases);
  count(e, Event::CellRead, positions * n_dup * pw.kept * p.cols_per_weight * p.phases);
  count(e, Event::AdcConversion, positions * col_activations * p.cols_per_weight * p.phases);
  count(e, Event::ShiftAdd, positions * col_activations * p.cols_per_weight * p.phases);
  count(e, Event::AccumulatorAdd, positions * col_activations);
  count(e, Event::BufferWriteBit, positions * col_activations * p.timing.accumulator_bits);
  return e;
}

void add_events(EventCounts& into, const EventCounts& e) {
  for (size_t i = 0; i < into.size(); ++i) into[i] += e[i];
}

}  // namespace imcsim
