#include "sim/config/config_compression.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "sim/config/config.hpp"
#include "sim/config/param.hpp"
#include "workloads/loader.hpp"
#include "workloads/npy_weights.hpp"

namespace fs = std::filesystem;

namespace imcsim {

namespace {

using namespace compress;

// A rank rule from `rank` | `rank_ratio` | `energy` (at most one); nullopt when none.
std::optional<RankSelection> parse_rank(const YamlNode& n) {
  const ParamTable& t = param_table("compression");
  std::optional<RankSelection> sel;
  int given = 0;
  for (const char* key : {"rank", "rank_ratio", "energy"}) {
    const auto k = n.find(key);
    if (!k) continue;
    if (++given > 1) k->fail("give only one of rank, rank_ratio and energy");
    RankSelection s;
    if (std::string(key) == "rank") {
      s.rule = RankRule::Fixed;
      s.rank = param_int(n, t, key);
    } else if (std::string(key) == "rank_ratio") {
      s.rule = RankRule::Ratio;
      s.ratio = param_real(n, t, key);
    } else {
      s.rule = RankRule::Energy;
      s.energy = param_real(n, t, key);
    }
    sel = s;
  }
  return sel;
}

GroupAxis axis_of(const std::string& text) {
  return text == "out" ? GroupAxis::Out : GroupAxis::In;
}

const char* scope_name(PatternScope s) {
  return s == PatternScope::Kernel ? "kernel" : "block";
}

// The description a method of compression_registry() gives its parameter `key`.
std::string method_param_desc(const std::string& key) {
  for (const auto& m : compression_registry())
    for (const auto& p : m.params)
      if (p.name == key) return p.description;
  return "";
}

// "pat4, pat6, pat8 or a list of masks": the range column of `patterns`.
std::string pattern_values() {
  std::string v;
  for (const auto& name : builtin_pattern_sets()) v += name + ", ";
  return v.substr(0, v.size() - 2) + " or a list of masks";
}

// The per-layer keys under `layers: <name>:`.
void add_layer_params(std::vector<Param>& p) {
  const std::string at = "layers.<name>.";
  p.push_back(Param::boolean(at + "skip")
                  .default_val(LayerOverride{}.skip)
                  .desc("keep this layer dense")
                  .src("choice"));
  for (const char* key : {"rank", "rank_ratio", "energy"}) {
    const auto same =
        std::find_if(p.begin(), p.end(), [&](const Param& q) { return q.key == key; });
    p.push_back(same->renamed(at + key).optional("the section's rule").src("choice"));
  }
  p.push_back(Param::integer(at + "groups", 1, 1 << 16)
                  .optional("the section's groups")
                  .desc("groups of this layer (1: plain low-rank)")
                  .src("choice"));
  p.push_back(Param::choice(at + "group_axis", {"in", "out"})
                  .optional("the section's group_axis")
                  .desc("group axis of this layer")
                  .src("choice"));
}

}  // namespace

ParamTable compression_param_table() {
  // Defaults of the struct initializers of compress::CompressionSpec (and RankSelection,
  // PruneOptions) read back here; the descriptions of method parameters are the registry's.
  const CompressionSpec d;
  const std::string ref = "REFERENCE §6-§8; mappers/compress/compress.hpp";
  ParamTable t{"compression", "compression parameters (under `compression:`):", {}};
  auto& p = t.params;
  p.push_back(Param::choice("method", method_names())
                  .required()
                  .desc("compression method (imcsim list compression)")
                  .src("required"));
  p.push_back(Param::integer("rank", 1, 1 << 20)
                  .optional("rank_ratio")
                  .desc("fixed rank per group (give one of rank, rank_ratio, energy)")
                  .src("choice"));
  p.push_back(Param::real("rank_ratio", 1e-9, 1.0)
                  .default_val(d.rank.ratio)
                  .desc("rank = ceil(ratio * min(OC, IC K^2)) per group")
                  .src("choice: a quarter of the full rank"));
  p.push_back(Param::real("energy", 1e-9, 1.0)
                  .optional("rank_ratio")
                  .desc("smallest rank keeping this fraction of ||W||_F^2")
                  .src("choice"));
  p.push_back(Param::integer("groups", 2, 1 << 16)
                  .default_val(kDefaultGroups)
                  .desc(method_param_desc("groups") + "; method group-lowrank only")
                  .src("choice: the smallest split (REFERENCE §7)"));
  p.push_back(Param::choice("group_axis", {"in", "out"})
                  .default_val(to_string(d.axis))
                  .desc("split input or output channels")
                  .src("REFERENCE §7 choice: both"));
  p.push_back(Param::real("sigma_split", 0.0, 1.0)
                  .default_val(d.sigma_split)
                  .desc(method_param_desc("sigma_split"))
                  .src("REFERENCE §6 choice: sqrt(S) to both factors"));
  p.push_back(Param::choice("l_placement", l_placement_names())
                  .default_val(to_string(d.l_placement))
                  .desc(method_param_desc("l_placement"))
                  .src(ref));
  p.push_back(Param::choice("mapper", mapper_names())
                  .default_val(d.mapper)
                  .desc(method_param_desc("mapper"))
                  .src(ref));
  p.push_back(Param::boolean("exclude_first")
                  .default_val(d.exclude_first)
                  .desc("keep the first conv dense")
                  .src("common practice of low-rank and pruning papers"));
  p.push_back(Param::boolean("exclude_last")
                  .default_val(d.exclude_last)
                  .desc("keep the last layer (the classifier) dense")
                  .src("common practice of low-rank and pruning papers"));
  p.push_back(Param::boolean("fold_bn")
                  .default_val(d.fold_bn)
                  .desc("fold each layer's BatchNorm into L (low-rank)")
                  .src("choice"));
  p.push_back(Param::text("weights")
                  .optional("synthetic from the seed")
                  .values("a folder of .npy")
                  .desc("weights to compress")
                  .src("choice"));
  p.push_back(Param::choice("patterns", builtin_pattern_sets())
                  .default_val(d.prune.patterns.name)
                  .values(pattern_values())
                  .desc(method_param_desc("patterns"))
                  .src("REFERENCE §8"));
  p.push_back(Param::choice("pattern_scope", {"block", "kernel"})
                  .default_val(scope_name(d.prune.scope))
                  .desc(method_param_desc("pattern_scope"))
                  .src("REFERENCE §8"));
  p.push_back(Param::integer("block_oc", 0, 1 << 20)
                  .default_val(d.prune.block_oc)
                  .units("channels")
                  .desc(method_param_desc("block_oc"))
                  .src("REFERENCE §8 choice: the columns one array holds"));
  p.push_back(Param::real("index_energy_pj_per_row", 0.0, 1e6)
                  .default_val(d.prune.index_energy_pj_per_row)
                  .units("pJ")
                  .desc(method_param_desc("index_energy_pj_per_row"))
                  .src("choice: not modelled (set from your periphery model)"));
  p.push_back(Param::real("index_area_um2_per_row", 0.0, 1e9)
                  .default_val(d.prune.index_area_um2_per_row)
                  .units("um^2")
                  .desc(method_param_desc("index_area_um2_per_row"))
                  .src("choice: not modelled (set from your periphery model)"));
  p.push_back(Param::text("layers")
                  .optional("none")
                  .values("a mapping of layer names")
                  .desc("per-layer overrides (the keys below)")
                  .src("choice"));
  add_layer_params(p);
  return t;
}

std::optional<CompressionConfig> parse_compression(const YamlNode& root,
                                                   const std::string& workload_file) {
  const auto node = root.find("compression");
  if (!node) return std::nullopt;
  const YamlNode& c = *node;
  c.expect_map();
  const ParamTable& t = param_table("compression");
  c.allow_only(t.keys());
  CompressionConfig cfg;
  CompressionSpec& s = cfg.spec;
  s.method = method_from_string(param_choice(c, t, "method"));
  if (auto r = parse_rank(c)) s.rank = *r;
  if (s.method == Method::GroupLowRank) {
    s.groups = param_int(c, t, "groups");
  } else if (auto g = c.find("groups")) {
    g->fail("groups is a key of method group-lowrank");
  }
  s.axis = axis_of(param_choice(c, t, "group_axis"));
  s.sigma_split = param_real(c, t, "sigma_split");
  s.l_placement = l_placement_from_string(param_choice(c, t, "l_placement"));
  s.mapper = param_choice(c, t, "mapper");
  s.exclude_first = param_bool(c, t, "exclude_first");
  s.exclude_last = param_bool(c, t, "exclude_last");
  s.fold_bn = param_bool(c, t, "fold_bn");
  if (auto w = c.find("weights")) {
    const fs::path p(w->as_string());
    cfg.weights =
        (p.is_absolute() ? p : fs::path(root.file()).parent_path() / p).lexically_normal().string();
    if (!fs::is_directory(cfg.weights))
      w->fail(fmt::format("weights folder \"{}\" does not exist", cfg.weights));
  }

  if (auto p = c.find("patterns")) {
    if (p->is_seq()) {
      s.prune.patterns = PatternSet{"custom", 3, {}};
      for (const auto& item : p->items()) {
        try {
          s.prune.patterns.masks.push_back(parse_pattern(item.as_string(), 3));
        } catch (const MappingError& e) {
          item.fail(e.message());
        }
      }
      if (s.prune.patterns.masks.empty()) p->fail_expected("at least one pattern");
    } else {
      s.prune.patterns = builtin_patterns(param_choice(c, t, "patterns"));
    }
  }
  s.prune.scope =
      param_choice(c, t, "pattern_scope") == "kernel" ? PatternScope::Kernel : PatternScope::Block;
  s.prune.block_oc = param_int(c, t, "block_oc");
  s.prune.index_energy_pj_per_row = param_real(c, t, "index_energy_pj_per_row");
  s.prune.index_area_um2_per_row = param_real(c, t, "index_area_um2_per_row");

  if (auto layers = c.find("layers")) {
    layers->expect_map();
    const Network net = load_workload_file(workload_file);
    for (const auto& [name, ln] : layers->entries()) {
      const Layer* l = net.find(name);
      if (!l || !l->on_arrays())
        ln.fail(fmt::format("no conv/fc layer \"{}\" in workload {}", name, net.name));
      ln.expect_map();
      ln.allow_only(t.keys("layers.<name>"));
      LayerOverride o;
      o.skip = param_bool(ln, t, "layers.<name>.skip");
      o.rank = parse_rank(ln);
      if (ln.has("groups")) o.groups = param_int(ln, t, "layers.<name>.groups");
      if (ln.has("group_axis")) o.axis = axis_of(param_choice(ln, t, "layers.<name>.group_axis"));
      s.layers[name] = o;
    }
  }
  return cfg;
}

void emit_compression(YAML::Emitter& out, const CompressionConfig& cfg) {
  const CompressionSpec& s = cfg.spec;
  auto emit_rank = [&](const RankSelection& r) {
    switch (r.rule) {
      case RankRule::Fixed: out << YAML::Key << "rank" << YAML::Value << r.rank; break;
      case RankRule::Ratio: out << YAML::Key << "rank_ratio" << YAML::Value << r.ratio; break;
      case RankRule::Energy: out << YAML::Key << "energy" << YAML::Value << r.energy; break;
    }
  };
  out << YAML::Key << "compression" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "method" << YAML::Value << to_string(s.method);
  emit_rank(s.rank);
  if (s.method == Method::GroupLowRank) out << YAML::Key << "groups" << YAML::Value << s.groups;
  out << YAML::Key << "group_axis" << YAML::Value << to_string(s.axis);
  out << YAML::Key << "sigma_split" << YAML::Value << s.sigma_split;
  out << YAML::Key << "l_placement" << YAML::Value << to_string(s.l_placement);
  out << YAML::Key << "mapper" << YAML::Value << s.mapper;
  out << YAML::Key << "exclude_first" << YAML::Value << s.exclude_first;
  out << YAML::Key << "exclude_last" << YAML::Value << s.exclude_last;
  out << YAML::Key << "fold_bn" << YAML::Value << s.fold_bn;
  if (!cfg.weights.empty()) out << YAML::Key << "weights" << YAML::Value << cfg.weights;
  if (s.prune.patterns.name == "custom") {
    std::vector<std::string> masks;
    for (uint32_t m : s.prune.patterns.masks) masks.push_back(pattern_string(m, 3));
    out << YAML::Key << "patterns" << YAML::Value << YAML::Flow << masks;
  } else {
    out << YAML::Key << "patterns" << YAML::Value << s.prune.patterns.name;
  }
  out << YAML::Key << "pattern_scope" << YAML::Value << scope_name(s.prune.scope);
  out << YAML::Key << "block_oc" << YAML::Value << s.prune.block_oc;
  out << YAML::Key << "index_energy_pj_per_row" << YAML::Value << s.prune.index_energy_pj_per_row;
  out << YAML::Key << "index_area_um2_per_row" << YAML::Value << s.prune.index_area_um2_per_row;
  if (!s.layers.empty()) {
    out << YAML::Key << "layers" << YAML::Value << YAML::BeginMap;
    for (const auto& [name, o] : s.layers) {
      out << YAML::Key << name << YAML::Value << YAML::BeginMap;
      if (o.skip) out << YAML::Key << "skip" << YAML::Value << true;
      if (o.rank) emit_rank(*o.rank);
      if (o.groups) out << YAML::Key << "groups" << YAML::Value << *o.groups;
      if (o.axis) out << YAML::Key << "group_axis" << YAML::Value << to_string(*o.axis);
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
}

}  // namespace imcsim
