// Mappers: pure functions (ConvShape, ArrayGeometry) -> LayerMapping
// (STYLE.md: "Mappers are pure functions"). Each registers under a name with a
// description and its parameters, so `imcsim list` can print them and an
// experiment can say `mapper: vwsdk`.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mappers/layer_mapping.hpp"
#include "workloads/network.hpp"

namespace imcsim {

// REFERENCE §2: flat tiling of the unrolled (K_h K_w IC) x OC weight matrix.
LayerMapping map_im2col(const ConvShape& s, const ArrayGeometry& a);
// REFERENCE §3: square parallel window grown from i = 2 while it fits the im2col tile counts.
LayerMapping map_sdk(const ConvShape& s, const ArrayGeometry& a);
// REFERENCE §4: rectangular window with channel tiling, true minimum over all windows,
// im2col when that is strictly better.
LayerMapping map_vwsdk(const ConvShape& s, const ArrayGeometry& a);
// The best of im2col, sdk and vwsdk for this layer (fewest cycles, then fewest arrays,
// then the simpler method in that order).
LayerMapping map_auto(const ConvShape& s, const ArrayGeometry& a);

struct ParamInfo {
  std::string name;
  std::string description;
  std::string default_value;
};

struct MapperInfo {
  std::string name;
  std::string description;
  std::string reference;  // equation in REFERENCE.md
  std::vector<ParamInfo> params;
  LayerMapping (*fn)(const ConvShape&, const ArrayGeometry&);
};

// All registered mappers, in registration order.
const std::vector<MapperInfo>& mapper_registry();
std::vector<std::string> mapper_names();
// The mapper called `name`; MappingError listing the known names otherwise.
const MapperInfo& find_mapper(const std::string& name);

// Maps one shape, splitting grouped convs into their groups (REFERENCE §7: a grouped conv
// is `groups` independent convs, each on its own tiles). Checks the array can hold a weight.
LayerMapping map_layer(const MapperInfo& mapper, const ConvShape& s, const ArrayGeometry& a);

// Every on-array layer of a network mapped with one mapper.
struct NetworkMapping {
  std::string network;
  std::string mapper;
  Convention convention = Convention::Framework;
  ArrayGeometry array;
  std::vector<LayerMapping> layers;
  int64_t total_cycles() const;
  int64_t max_arrays() const;  // most arrays any one layer needs at once
};

NetworkMapping map_network(const Network& net, const MapperInfo& mapper, const ArrayGeometry& a,
                           Convention convention);

}  // namespace imcsim
