#include "study/paper.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "workloads/error.hpp"

namespace imcsim::paper {

using namespace compress;

Tensor lowrank_weight(const LowRankFactors& f, const std::vector<int64_t>& shape) {
  const Eigen::MatrixXd wm = f.reconstruct();  // OC x IC*K_h*K_w, OIHW order
  Tensor t(shape);
  if (t.size() != wm.size())
    throw MappingError("", 0, "",
                       fmt::format("W' has {} values, the weight {}", wm.size(), t.shape_str()));
  for (int64_t o = 0; o < wm.rows(); ++o)
    for (int64_t j = 0; j < wm.cols(); ++j)
      t.data[static_cast<size_t>(o * wm.cols() + j)] = static_cast<float>(wm(o, j));
  return t;
}

namespace {

double rel_error(const Tensor& w, const Tensor& wc) {
  double num = 0, den = 0;
  for (size_t i = 0; i < w.data.size(); ++i) {
    const double d = static_cast<double>(w.data[i]) - static_cast<double>(wc.data[i]);
    num += d * d;
    den += static_cast<double>(w.data[i]) * static_cast<double>(w.data[i]);
  }
  return den > 0 ? std::sqrt(num / den) : 0.0;
}

}  // namespace

WeightSet compressed_weights(const Network& net, const WeightSet& w, const CompressionSpec& spec,
                             const CompressionResult& r) {
  WeightSet out = w;
  out.source = w.source + " compressed(" + r.method + ")";
  for (const CompressedLayer& cl : r.layers) {
    if (cl.method == "dense") continue;
    const Layer* layer = net.find(cl.layer);
    if (!layer) throw MappingError("", 0, cl.layer, "compressed layer not in the network");
    const LayerWeights& lw = w.at(cl.layer);
    Tensor wc;
    double err_run = cl.rel_error;
    if (cl.method == "prune") {
      const ConvShape shape = conv_shape(*layer, r.convention);
      const int64_t block_oc =
          spec.prune.block_oc > 0 ? spec.prune.block_oc : std::min(shape.oc, r.array.weight_cols());
      wc = prune_patterns(lw.weight, spec.prune, block_oc, cl.layer).weight;
    } else {
      // The options compress_layer used (REFERENCE §6, §7), overrides included.
      LowRankOptions lo;
      const auto ov = spec.layers.find(cl.layer);
      const LayerOverride* o = ov == spec.layers.end() ? nullptr : &ov->second;
      lo.rank = o && o->rank ? *o->rank : spec.rank;
      lo.groups = spec.method == Method::GroupLowRank ? spec.groups : 1;
      if (o && o->groups) lo.groups = *o->groups;
      lo.axis = o && o->axis ? *o->axis : spec.axis;
      lo.sigma_split = spec.sigma_split;
      const LowRankFactors f = decompose(lw.weight, lo, cl.layer);
      wc = lowrank_weight(f, lw.weight.shape);
    }
    const double err = rel_error(lw.weight, wc);
    if (std::abs(err - err_run) > 1e-9)
      throw MappingError(
          "", 0, cl.layer,
          fmt::format("rebuilt W' has error {:.12g}, the compression run {:.12g}", err, err_run));
    out.layers[cl.layer].weight = std::move(wc);
  }
  return out;
}

void add_events(EventCounts& into, const EventCounts& e) {
  for (size_t i = 0; i < into.size(); ++i) into[i] += e[i];
}

namespace {

void count(EventCounts& e, Event ev, int64_t n) {
  e[static_cast<size_t>(ev)] += n;
}

}  // namespace

EventCounts schedule_events(const TileSchedule& s, const EventParams& p,
                            const std::vector<char>& active) {
  EventCounts e{};
  const int64_t col_tiles = s.mapping.col_tiles;
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
        count(e, Event::BufferWriteBit, valid * p.accumulator_bits);
      }
    }
  }
  return e;
}

EventCounts rowskip_events(const RowSkipMapping& rs, const PrunedWeights& pw,
                           const ConvShape& shape, const EventParams& p) {
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
  count(e, Event::BufferWriteBit, positions * col_activations * p.accumulator_bits);
  return e;
}

}  // namespace imcsim::paper
