#include <fmt/format.h>

#include <algorithm>

#include "mappers/mapper_detail.hpp"
#include "workloads/error.hpp"
#include "workloads/yaml_reader.hpp"

namespace imcsim {

namespace detail {

void finish_mapping(LayerMapping& m, const ArrayGeometry& a, int64_t ic_tile, int64_t oc_tile) {
  const ConvShape& s = m.shape;
  m.ic_tile = ic_tile;
  m.oc_tile = oc_tile;
  m.cycles = m.positions * m.row_tiles * m.col_tiles * s.groups;
  const double n = static_cast<double>(m.duplicates());
  const double tile_rows = static_cast<double>(a.rows * m.row_tiles);
  const double tile_cols = static_cast<double>(a.cols * m.col_tiles);
  const double weight_cells =
      n * static_cast<double>(s.k_h * s.k_w * s.ic * s.oc * a.cols_per_weight);
  m.utilization = weight_cells / (tile_rows * tile_cols);
  m.row_utilization = static_cast<double>(s.ic * m.pw_h * m.pw_w) / tile_rows;
  m.col_utilization = n * static_cast<double>(s.oc * a.cols_per_weight) / tile_cols;
}

}  // namespace detail

LayerMapping map_auto(const ConvShape& s, const ArrayGeometry& a) {
  // Candidates in order of hardware simplicity; a later one must be strictly better.
  LayerMapping best = map_im2col(s, a);
  for (auto fn : {map_sdk, map_vwsdk}) {
    LayerMapping m = fn(s, a);
    if (m.cycles < best.cycles || (m.cycles == best.cycles && m.arrays() < best.arrays())) best = m;
  }
  best.mapper = "auto";
  return best;
}

const std::vector<MapperInfo>& mapper_registry() {
  // One registration line per mapper.
  static const std::vector<MapperInfo> registry = {
      {"im2col",
       "unrolled K*K*IC x OC weight matrix, flat row/column tiling",
       "REFERENCE §2",
       {},
       map_im2col},
      {"sdk",
       "shift-and-duplicate-kernel: square parallel window i x i grown while it fits the im2col "
       "tile counts",
       "REFERENCE §3",
       {},
       map_sdk},
      {"vwsdk",
       "variable-window SDK: rectangular window with input/output channel tiling, exhaustive "
       "minimum over feasible windows, im2col fallback",
       "REFERENCE §4",
       {},
       map_vwsdk},
      {"auto",
       "per layer the best of im2col, sdk and vwsdk (fewest cycles, then fewest arrays, then "
       "simplest)",
       "REFERENCE §4 note",
       {},
       map_auto},
  };
  return registry;
}

std::vector<std::string> mapper_names() {
  std::vector<std::string> names;
  for (const auto& m : mapper_registry()) names.push_back(m.name);
  return names;
}

const MapperInfo& find_mapper(const std::string& name) {
  for (const auto& m : mapper_registry())
    if (m.name == name) return m;
  throw MappingError("", 0, "mapper",
                     fmt::format("unknown mapper \"{}\" (expected one of: {})", name,
                                 join_choices(mapper_names())));
}

LayerMapping map_layer(const MapperInfo& mapper, const ConvShape& s, const ArrayGeometry& a) {
  if (a.rows < 1 || a.weight_cols() < 1) {
    throw MappingError("", 0, s.layer,
                       fmt::format("a {}x{} array cannot hold one weight ({} columns per weight)",
                                   a.rows, a.cols, a.cols_per_weight));
  }
  LayerMapping m = mapper.fn(s, a);
  m.mapper = mapper.name;
  return m;
}

int64_t NetworkMapping::total_cycles() const {
  int64_t t = 0;
  for (const auto& l : layers) t += l.cycles;
  return t;
}

int64_t NetworkMapping::max_arrays() const {
  int64_t m = 0;
  for (const auto& l : layers) m = std::max(m, l.arrays());
  return m;
}

NetworkMapping map_network(const Network& net, const MapperInfo& mapper, const ArrayGeometry& a,
                           Convention convention) {
  NetworkMapping out;
  out.network = net.name;
  out.mapper = mapper.name;
  out.convention = convention;
  out.array = a;
  for (const auto& l : net.layers) {
    if (!l.on_arrays()) continue;
    out.layers.push_back(map_layer(mapper, conv_shape(l, convention), a));
  }
  return out;
}

}  // namespace imcsim
