// A compressed network as layers an executor runs (DESIGN.md: compression -> Network'):
// every low-rank / group low-rank layer becomes its R factor (a K x K conv IC -> r, or an
// fc IC -> r) followed by its L factor (a 1x1 conv r -> OC, or an fc r -> OC) with the
// BatchNorm folded into L's bias and the layer's activation. L keeps the original layer
// name, so the layers that consumed it are unchanged; R is named "<layer>.R".
// Group structure (REFERENCE §7): input-channel groups with equal splits and ranks make R
// a grouped conv; output-channel groups make L a grouped conv; uneven groups stay dense
// matrices with the structural zeros (noted). Pure C++, no SystemC.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "mappers/compress/compress.hpp"
#include "workloads/network.hpp"
#include "workloads/weights.hpp"

namespace imcsim::compress {

struct ExpandedNetwork {
  Network net;
  WeightSet weights;
  std::map<std::string, std::string> origin;  // layer of `net` -> layer of the original network
  std::vector<std::string> notes;             // e.g. uneven groups mapped as dense factors
};

// `plan` is compress_network()'s result for `net` with `weights` (its factors decide which
// layers are split). MappingError if a compressed layer lacks its factors.
// `dense_groups`: every R and L as a dense matrix with the group structure's zeros (what the
// engine runs: its schedules place only the groups' blocks, never the zeros); otherwise
// equal groups become grouped convs (exporters).
// The name expand_lowrank gives a layer's R factor ("<layer>.R"), and back: the layer an R
// factor came from, or "" for a name that is not an R factor's.
std::string r_factor_name(const std::string& layer);
std::string layer_of_r_factor(const std::string& name);

ExpandedNetwork expand_lowrank(const Network& net, const WeightSet& weights,
                               const CompressionResult& plan, bool dense_groups = false);

}  // namespace imcsim::compress
