#include "sim/report/compress_report.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace imcsim {

using compress::CompressedLayer;
using compress::CompressionResult;

namespace {

std::string ranks_cell(const CompressedLayer& l) {
  return fmt::format("{}", fmt::join(l.ranks, "/"));
}

int64_t rank_cell(const CompressedLayer& l) {
  return l.ranks.empty() ? 0 : *std::max_element(l.ranks.begin(), l.ranks.end());
}

std::string placement_cell(const CompressedLayer& l) {
  return l.lowrank ? compress::to_string(l.lowrank->placement) : "";
}

}  // namespace

std::string compression_csv(const CompressionResult& r) {
  std::string out =
      "layer,method,rank,groups,params,params_dense,rel_error,mapper,cycles,cycles_dense,"
      "utilization,ranks,group_axis,group_sizes,dense_rel_error,theorem1,layout,l_placement,"
      "cycles_l_idle,cycles_l_im2col,cycles_l_kron,arrays,arrays_dense,win_h,win_w,rows_driven,"
      "rows_dense,"
      "index_energy_pj,note\n";
  for (const auto& l : r.layers) {
    const LayerMapping& m = l.mapping;
    out += fmt::format(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
        l.layer, l.method, rank_cell(l), l.groups, l.params, l.params_dense, fixed(l.rel_error, 6),
        r.mapper, m.cycles, l.dense.cycles, fixed(m.utilization, 6), ranks_cell(l), l.axis,
        fmt::join(l.group_sizes, "/"), fixed(l.dense_rel_error, 6), l.theorem1 ? 1 : 0, m.method,
        placement_cell(l), l.lowrank ? l.lowrank->cycles_idle : -1,
        l.lowrank ? l.lowrank->cycles_im2col : -1, l.lowrank ? l.lowrank->cycles_kron : -1,
        m.arrays(), l.dense.arrays(), m.win_h, m.win_w, l.rowskip ? l.rowskip->rows_driven : -1,
        l.rowskip ? l.rowskip->rows_dense : -1,
        l.rowskip ? fixed(l.rowskip->index_energy_pj, 3) : "", l.note);
  }
  out += fmt::format("TOTAL,{},,,{},{},,{},{},{},,,,,,,,,,,,,,,,,,,\n", r.method, r.params(),
                     r.params_dense(), r.mapper, r.cycles(), r.cycles_dense());
  return out;
}

std::string compression_table(const CompressionResult& r) {
  size_t w = 5;
  for (const auto& l : r.layers) w = std::max(w, l.layer.size());
  std::string out = fmt::format(
      "{} on {}x{} arrays ({} col/weight), {} convention, method {}, base mapper {}, weights {}\n",
      r.network, r.array.rows, r.array.cols, r.array.cols_per_weight, to_string(r.convention),
      r.method, r.mapper, r.weights_source);
  out +=
      fmt::format("{:<{}} {:>13} {:>7} {:>8} {:>8} {:>8} {:>8} {:>22} {:>10} {:>10} {:>6} {:>6}\n",
                  "layer", w, "method", "rank", "params", "dense", "rel_err", "dense_err", "layout",
                  "cycles", "dense_cc", "util%", "arrays");
  for (const auto& l : r.layers) {
    const LayerMapping& m = l.mapping;
    out += fmt::format(
        "{:<{}} {:>13} {:>7} {:>8} {:>8} {:>8} {:>8} {:>22} {:>10} {:>10} {:>6} {:>6}{}\n", l.layer,
        w, l.method, l.ranks.empty() ? "-" : ranks_cell(l), l.params, l.params_dense,
        fixed(l.rel_error, 4), l.ranks.size() > 1 ? fixed(l.dense_rel_error, 4) : "-", m.method,
        m.cycles, l.dense.cycles, fixed(100 * m.utilization, 1), m.arrays(),
        l.note.empty() ? "" : "  (" + l.note + ")");
  }
  out +=
      fmt::format("{:<{}} {:>13} {:>7} {:>8} {:>8} {:>8} {:>8} {:>22} {:>10} {:>10}\n", "TOTAL", w,
                  "", "", r.params(), r.params_dense(), "", "", "", r.cycles(), r.cycles_dense());
  out += fmt::format(
      "speed-up vs dense {}: {:.3f}x, parameters {:.1f}% of dense\n", r.mapper,
      static_cast<double>(r.cycles_dense()) / static_cast<double>(std::max<int64_t>(1, r.cycles())),
      100.0 * static_cast<double>(r.params()) /
          static_cast<double>(std::max<int64_t>(1, r.params_dense())));
  return out;
}

Json compression_json(const CompressionResult& r) {
  Json j;
  j["network"] = r.network;
  j["weights"] = r.weights_source;
  j["method"] = r.method;
  j["mapper"] = r.mapper;
  j["array"] = {
      {"rows", r.array.rows}, {"cols", r.array.cols}, {"cols_per_weight", r.array.cols_per_weight}};
  j["cycles"] = r.cycles();
  j["cycles_dense"] = r.cycles_dense();
  j["params"] = r.params();
  j["params_dense"] = r.params_dense();
  Json layers = Json::array();
  for (const auto& l : r.layers) {
    Json e;
    e["layer"] = l.layer;
    e["method"] = l.method;
    e["ranks"] = l.ranks;
    e["groups"] = l.groups;
    e["group_axis"] = l.axis;
    e["group_sizes"] = l.group_sizes;
    e["params"] = l.params;
    e["params_dense"] = l.params_dense;
    e["rel_error"] = l.rel_error;
    if (l.ranks.size() > 1) {
      e["theorem1"] = {{"rank", *std::min_element(l.ranks.begin(), l.ranks.end())},
                       {"dense_rel_error", l.dense_rel_error},
                       {"holds", l.theorem1}};
    }
    e["cycles"] = l.mapping.cycles;
    e["cycles_dense"] = l.dense.cycles;
    e["mapping"] = mapping_json(l.mapping);
    e["dense"] = mapping_json(l.dense);
    if (l.lowrank) {
      const auto& lr = *l.lowrank;
      int64_t packed = 0;  // R arrays shared by several groups' tiles
      for (const auto& arr : lr.r_arrays) packed += arr.size() > 1 ? 1 : 0;
      e["lowrank"] = {{"R", mapping_json(lr.r)},
                      {"r_cycles", lr.r_cycles},
                      {"r_arrays", static_cast<int64_t>(lr.r_arrays.size())},
                      {"r_arrays_packed", packed},
                      {"L_im2col", mapping_json(lr.l)},
                      {"l_im2col_tiles", lr.l_im2col_tiles},
                      {"cycles_im2col", lr.cycles_im2col},
                      {"cycles_kron", lr.cycles_kron},
                      {"l_kron_arrays", lr.l_kron_arrays},
                      {"cycles_idle", lr.cycles_idle},
                      {"placement", compress::to_string(lr.placement)},
                      {"l_extra_arrays", lr.l_extra_arrays}};
    }
    if (l.rowskip) {
      e["rowskip"] = {{"rows_driven", l.rowskip->rows_driven},
                      {"rows_dense", l.rowskip->rows_dense},
                      {"row_tiles_per_col_tile", l.rowskip->row_tiles_per_col_tile},
                      {"index_energy_pj", l.rowskip->index_energy_pj},
                      {"index_area_um2", l.rowskip->index_area_um2}};
    }
    if (!l.note.empty()) e["note"] = l.note;
    layers.push_back(std::move(e));
  }
  j["layers"] = std::move(layers);
  return j;
}

NetworkMapping compression_mapping(const CompressionResult& r) {
  NetworkMapping nm;
  nm.network = r.network;
  nm.mapper = r.method;
  nm.convention = r.convention;
  nm.array = r.array;
  for (const auto& l : r.layers) {
    LayerMapping m = l.mapping;
    m.mapper = r.method;
    nm.layers.push_back(std::move(m));
  }
  return nm;
}

}  // namespace imcsim
