#include "sim/config/config_compression.hpp"

#include <fmt/format.h>

#include <filesystem>

#include "sim/config/config.hpp"
#include "workloads/loader.hpp"
#include "workloads/npy_weights.hpp"

namespace fs = std::filesystem;

namespace imcsim {

namespace {

using namespace compress;

// A rank rule from `rank` | `rank_ratio` | `energy` (at most one); nullopt when none.
std::optional<RankSelection> parse_rank(const YamlNode& n) {
  std::optional<RankSelection> sel;
  int given = 0;
  for (const char* key : {"rank", "rank_ratio", "energy"}) {
    const auto k = n.find(key);
    if (!k) continue;
    if (++given > 1) k->fail("give only one of rank, rank_ratio and energy");
    RankSelection s;
    if (std::string(key) == "rank") {
      s.rule = RankRule::Fixed;
      s.rank = k->as_int(1, 1 << 20);
    } else if (std::string(key) == "rank_ratio") {
      s.rule = RankRule::Ratio;
      s.ratio = k->as_number(1e-9, 1.0);
    } else {
      s.rule = RankRule::Energy;
      s.energy = k->as_number(1e-9, 1.0);
    }
    sel = s;
  }
  return sel;
}

GroupAxis parse_axis(const YamlNode& n) {
  return n.as_choice({"in", "out"}) == "out" ? GroupAxis::Out : GroupAxis::In;
}

}  // namespace

std::optional<CompressionConfig> parse_compression(const YamlNode& root,
                                                   const std::string& workload_file) {
  const auto node = root.find("compression");
  if (!node) return std::nullopt;
  const YamlNode& c = *node;
  c.expect_map();
  c.allow_only({"method", "rank", "rank_ratio", "energy", "groups", "group_axis", "sigma_split",
                "l_placement", "mapper", "exclude_first", "exclude_last", "fold_bn", "weights",
                "patterns", "pattern_scope", "block_oc", "index_energy_pj_per_row",
                "index_area_um2_per_row", "layers"});
  CompressionConfig cfg;
  CompressionSpec& s = cfg.spec;
  s.method = method_from_string(c.child("method").as_choice(method_names()));
  if (auto r = parse_rank(c)) s.rank = *r;
  if (s.method == Method::GroupLowRank) {
    s.groups = c.get_int("groups", 2, 1 << 16, 2);
  } else if (auto g = c.find("groups")) {
    g->fail("groups is a key of method group-lowrank");
  }
  if (auto a = c.find("group_axis")) s.axis = parse_axis(*a);
  s.sigma_split = c.get_number("sigma_split", 0.0, 1.0, 0.5);
  s.l_placement = l_placement_from_string(c.get_choice("l_placement", l_placement_names(), "auto"));
  s.mapper = c.get_choice("mapper", mapper_names(), "auto");
  s.exclude_first = c.get_bool("exclude_first", true);
  s.exclude_last = c.get_bool("exclude_last", true);
  s.fold_bn = c.get_bool("fold_bn", true);
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
      s.prune.patterns = builtin_patterns(p->as_choice(builtin_pattern_sets()));
    }
  }
  s.prune.scope = c.get_choice("pattern_scope", {"block", "kernel"}, "block") == "kernel"
                      ? PatternScope::Kernel
                      : PatternScope::Block;
  s.prune.block_oc = c.get_int("block_oc", 0, 1 << 20, 0);
  s.prune.index_energy_pj_per_row = c.get_number("index_energy_pj_per_row", 0.0, 1e6, 0.0);
  s.prune.index_area_um2_per_row = c.get_number("index_area_um2_per_row", 0.0, 1e9, 0.0);

  if (auto layers = c.find("layers")) {
    layers->expect_map();
    const Network net = load_workload_file(workload_file);
    for (const auto& [name, ln] : layers->entries()) {
      const Layer* l = net.find(name);
      if (!l || !l->on_arrays())
        ln.fail(fmt::format("no conv/fc layer \"{}\" in workload {}", name, net.name));
      ln.expect_map();
      ln.allow_only({"skip", "rank", "rank_ratio", "energy", "groups", "group_axis"});
      LayerOverride o;
      o.skip = ln.get_bool("skip", false);
      o.rank = parse_rank(ln);
      if (auto g = ln.find("groups")) o.groups = g->as_int(1, 1 << 16);
      if (auto a = ln.find("group_axis")) o.axis = parse_axis(*a);
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
  out << YAML::Key << "pattern_scope" << YAML::Value
      << (s.prune.scope == PatternScope::Kernel ? "kernel" : "block");
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
