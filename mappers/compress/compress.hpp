// The compression front end (DESIGN.md: Network -> compression -> Network' -> mappers):
// one spec (method, rank rule, groups, pattern set, per-layer overrides), applied to every
// on-array layer of a network with its weights, each compressed layer mapped and costed
// next to its dense mapping. Registered methods: compression_registry().
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mappers/compress/lowrank.hpp"
#include "mappers/compress/lowrank_mapping.hpp"
#include "mappers/compress/pruning.hpp"
#include "mappers/mapper.hpp"
#include "workloads/weights.hpp"

namespace imcsim::compress {

enum class Method { LowRank, GroupLowRank, Prune };
const char* to_string(Method m);
Method method_from_string(const std::string& s);  // MappingError on a bad name

struct MethodInfo {
  std::string name;
  std::string description;
  std::string reference;
  std::vector<ParamInfo> params;
};
// lowrank, group-lowrank, prune: what `imcsim list compression` prints.
const std::vector<MethodInfo>& compression_registry();
std::vector<std::string> method_names();

// Per-layer deviations from the spec (YAML `compression.layers.<name>`).
struct LayerOverride {
  bool skip = false;  // keep the layer dense
  std::optional<RankSelection> rank;
  std::optional<int64_t> groups;
  std::optional<GroupAxis> axis;
};

// Groups of method group-lowrank when the spec gives none (choice: the smallest split).
constexpr int64_t kDefaultGroups = 2;

// The defaults of `compression:` (and of `imcsim compress`) are these initializers; the
// registry above and sim/config's compression table read them back.
struct CompressionSpec {
  Method method = Method::LowRank;
  RankSelection rank;  // default: ratio (RankSelection::ratio)
  int64_t groups = 1;  // group-lowrank: >= 2 (kDefaultGroups when not given)
  GroupAxis axis = GroupAxis::In;
  double sigma_split = 0.5;  // REFERENCE §6 choice: sqrt(S) to both factors
  LPlacement l_placement = LPlacement::Auto;
  std::string mapper = "auto";  // maps R, the dense layer and the baseline
  // Choice (common practice of low-rank and pruning papers): the first conv (few input
  // channels) and the last layer (the classifier) stay dense.
  bool exclude_first = true;
  bool exclude_last = true;
  std::map<std::string, LayerOverride> layers;
  PruneOptions prune;
  bool fold_bn = true;  // fold each layer's BatchNorm into L (low-rank)
  // Arrays of the chip a cycle run executes on (0 = no limit): L in R's idle cells runs with
  // every R and L tile resident, so it is only chosen (or allowed) where they fit.
  int64_t chip_arrays = 0;
};

struct CompressedLayer {
  std::string layer;
  std::string method;                // lowrank, group-lowrank, prune, dense (excluded / n.a.)
  std::string note;                  // why a layer stayed dense, "uneven groups", ...
  std::vector<int64_t> ranks;        // per group (low-rank)
  std::vector<int64_t> group_sizes;  // channels per group along the axis
  int64_t groups = 1;
  std::string axis;  // in / out (group low-rank)
  int64_t params = 0, params_dense = 0;
  double rel_error = 0;        // ||W - W'||_F / ||W||_F
  double dense_rel_error = 0;  // Theorem 1: dense SVD error at the smallest group rank
  bool theorem1 = true;
  LayerMapping dense;                     // the uncompressed layer, base mapper
  LayerMapping mapping;                   // the compressed layer as placed (cycles, arrays, ...)
  std::optional<LowRankMapping> lowrank;  // R/L details
  std::optional<RowSkipMapping> rowskip;  // row-skipping details
  std::vector<double> folded_bias;        // BN folded into L (low-rank layers with BN)
  std::optional<LowRankFactors> factors;  // R and L (BN folded when fold_bn), for executors
  std::optional<Tensor> pruned_weight;    // the pattern-pruned weight (OIHW), for executors
};

struct CompressionResult {
  std::string network;
  std::string weights_source;
  std::string method;
  std::string mapper;
  ArrayGeometry array;
  Convention convention = Convention::Framework;
  std::vector<CompressedLayer> layers;
  int64_t cycles() const;
  int64_t cycles_dense() const;
  int64_t params() const;
  int64_t params_dense() const;
};

// Compresses and maps one layer (`index` / `count` locate it among the on-array layers for
// exclude_first / exclude_last).
CompressedLayer compress_layer(const Layer& layer, const LayerWeights& w,
                               const CompressionSpec& spec, const ArrayGeometry& a,
                               Convention convention, size_t index, size_t count);
CompressionResult compress_network(const Network& net, const WeightSet& weights,
                                   const CompressionSpec& spec, const ArrayGeometry& a,
                                   Convention convention);

}  // namespace imcsim::compress
