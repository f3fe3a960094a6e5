#include "mappers/compress/compress.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "workloads/error.hpp"
#include "workloads/yaml_reader.hpp"

namespace imcsim::compress {

const char* to_string(Method m) {
  switch (m) {
    case Method::LowRank: return "lowrank";
    case Method::GroupLowRank: return "group-lowrank";
    case Method::Prune: break;
  }
  return "prune";
}

std::vector<std::string> method_names() {
  std::vector<std::string> n;
  for (const auto& m : compression_registry()) n.push_back(m.name);
  return n;
}

Method method_from_string(const std::string& s) {
  for (Method m : {Method::LowRank, Method::GroupLowRank, Method::Prune})
    if (s == to_string(m)) return m;
  throw MappingError(
      "", 0, "method",
      fmt::format("expected one of {}, got \"{}\"", join_choices(method_names()), s));
}

const std::vector<MethodInfo>& compression_registry() {
  // One registration per method; the parameters are the keys under `compression:`, their
  // defaults those of CompressionSpec.
  static const std::vector<MethodInfo> registry = [] {
    const CompressionSpec d;
    return std::vector<MethodInfo>{
        {"lowrank",
         "truncated SVD W ~ L R: R a KxK conv IC->r, its window searched with L's cost; L a 1x1 "
         "conv r->OC as I_N (x) L with R's window on arrays of its own, as its own im2col layer, "
         "or (analytic only) in R's idle rows/columns",
         "REFERENCE §6",
         {{"rank | rank_ratio | energy",
           "fixed rank, ceil(ratio * min(OC, IC K^2)), or smallest r "
           "keeping that fraction of ||W||_F^2",
           fmt::format("rank_ratio {}", d.rank.ratio)},
          {"sigma_split", "exponent a of L = U S^a, R = S^(1-a) V^T",
           fmt::format("{}", d.sigma_split)},
          {"l_placement", "auto (the cheaper executed one) | kron | im2col | idle (analytic only)",
           to_string(d.l_placement)},
          {"mapper",
           "window search of R, of the dense baseline and of pruning: im2col | sdk | vwsdk | auto",
           d.mapper}}},
        {"group-lowrank",
         "g groups along input or output channels, each its own rank-r SVD (Theorem 1: error <= "
         "dense rank-r error); input groups: each group's R under the window, one-array groups "
         "packed side by side; output groups: L's blocks placed per group",
         "REFERENCE §7",
         {{"groups", "number of groups (uneven splits allowed and reported)",
           std::to_string(kDefaultGroups)},
          {"group_axis", "in | out", to_string(d.axis)}}},
        {"prune",
         "pattern pruning (one pattern per input channel x column block by kept |W|, or per "
         "kernel) with row skipping on the windows of the same search as the dense layer",
         "REFERENCE §8",
         {{"patterns", "pat4 | pat6 | pat8 | list of masks \"110/110/000\"", d.prune.patterns.name},
          {"pattern_scope", "block | kernel",
           d.prune.scope == PatternScope::Kernel ? "kernel" : "block"},
          {"block_oc", "output channels per pattern block (0 = im2col column tile)",
           std::to_string(d.prune.block_oc)},
          {"index_energy_pj_per_row", "index/mux energy per driven row per activation",
           fmt::format("{}", d.prune.index_energy_pj_per_row)},
          {"index_area_um2_per_row", "index/mux area per array row",
           fmt::format("{}", d.prune.index_area_um2_per_row)}}},
    };
  }();
  return registry;
}

namespace {
template <typename F>
int64_t sum_layers(const std::vector<CompressedLayer>& layers, F f) {
  int64_t t = 0;
  for (const auto& l : layers) t += f(l);
  return t;
}
}  // namespace

int64_t CompressionResult::cycles() const {
  return sum_layers(layers, [](const CompressedLayer& l) { return l.mapping.cycles; });
}
int64_t CompressionResult::cycles_dense() const {
  return sum_layers(layers, [](const CompressedLayer& l) { return l.dense.cycles; });
}
int64_t CompressionResult::params() const {
  return sum_layers(layers, [](const CompressedLayer& l) { return l.params; });
}
int64_t CompressionResult::params_dense() const {
  return sum_layers(layers, [](const CompressedLayer& l) { return l.params_dense; });
}

CompressedLayer compress_layer(const Layer& layer, const LayerWeights& w,
                               const CompressionSpec& spec, const ArrayGeometry& a,
                               Convention convention, size_t index, size_t count) {
  const MapperInfo& base = find_mapper(spec.mapper);
  const ConvShape shape = conv_shape(layer, convention);
  CompressedLayer out;
  out.layer = layer.name;
  out.dense = map_layer(base, shape, a);
  out.params_dense = w.weight.size();
  out.params = out.params_dense;
  out.mapping = out.dense;
  out.method = "dense";

  const auto ov = spec.layers.find(layer.name);
  const LayerOverride* o = ov == spec.layers.end() ? nullptr : &ov->second;
  if (o && o->skip) {
    out.note = "skipped by override";
    return out;
  }
  if (!o && spec.exclude_first && index == 0) {
    out.note = "first layer excluded";
    return out;
  }
  if (!o && spec.exclude_last && index + 1 == count) {
    out.note = "last layer excluded";
    return out;
  }
  if (layer.groups != 1) {
    out.note = "grouped convolution kept dense";
    return out;
  }

  if (spec.method == Method::Prune) {
    const int64_t k = spec.prune.patterns.k;
    if (layer.type != LayerType::Conv || layer.k_h != k || layer.k_w != k) {
      out.note = fmt::format("not a {}x{} conv: kept dense", k, k);
      return out;
    }
    const int64_t block_oc =
        spec.prune.block_oc > 0 ? spec.prune.block_oc : std::min(shape.oc, a.weight_cols());
    const PrunedWeights p = prune_patterns(w.weight, spec.prune, block_oc, layer.name);
    RowSkipMapping rs =
        map_row_skipping(shape, p, a, spec.prune, window_search_from_string(spec.mapper));
    out.method = "prune";
    out.params = p.kept;
    out.rel_error = p.rel_error;
    out.mapping = rs.mapping;
    out.rowskip = std::move(rs);
    out.pruned_weight = p.weight;
    return out;
  }

  LowRankOptions lo;
  lo.rank = o && o->rank ? *o->rank : spec.rank;
  lo.groups = spec.method == Method::GroupLowRank ? spec.groups : 1;
  if (o && o->groups) lo.groups = *o->groups;
  lo.axis = o && o->axis ? *o->axis : spec.axis;
  lo.sigma_split = spec.sigma_split;
  LowRankFactors f = decompose(w.weight, lo, layer.name);
  if (spec.fold_bn && w.bn) out.folded_bias = fold_batch_norm(f, w.bias, *w.bn);
  LowRankMapping m =
      map_lowrank(shape, LowRankStructure::of(f), a, window_search_from_string(spec.mapper),
                  spec.l_placement, spec.chip_arrays);
  out.method = lo.groups > 1 ? "group-lowrank" : "lowrank";
  out.ranks = f.ranks();
  out.group_sizes = f.group_sizes();
  out.groups = lo.groups;
  out.axis = lo.groups > 1 ? to_string(lo.axis) : "";
  if (f.uneven)
    out.note = fmt::format("uneven groups ({} channels split {})",
                           lo.axis == GroupAxis::In ? shape.ic : shape.oc,
                           fmt::join(out.group_sizes, "/"));
  out.params = f.params();
  out.rel_error = f.rel_error;
  out.dense_rel_error = f.dense_rel_error;
  out.theorem1 = f.theorem1_holds(1e-9);
  out.mapping = m.combined;
  out.lowrank = std::move(m);
  out.factors = std::move(f);
  return out;
}

CompressionResult compress_network(const Network& net, const WeightSet& weights,
                                   const CompressionSpec& spec, const ArrayGeometry& a,
                                   Convention convention) {
  CompressionResult r;
  r.network = net.name;
  r.weights_source = weights.source;
  r.method = to_string(spec.method);
  r.mapper = spec.mapper;
  r.array = a;
  r.convention = convention;
  std::vector<const Layer*> on;
  for (const auto& l : net.layers)
    if (l.on_arrays()) on.push_back(&l);
  for (const auto& [name, _] : spec.layers)
    if (!net.find(name) || !net.find(name)->on_arrays())
      throw MappingError("", 0, "compression.layers." + name,
                         fmt::format("no conv/fc layer of that name in {}", net.name));
  for (size_t i = 0; i < on.size(); ++i)
    r.layers.push_back(
        compress_layer(*on[i], weights.at(on[i]->name), spec, a, convention, i, on.size()));
  return r;
}

}  // namespace imcsim::compress
