// imcsim map: analytic mapping of a workload or of single layers.
#include <fmt/format.h>

#include <iostream>
#include <map>
#include <regex>
#include <sstream>

#include "mappers/mapper.hpp"
#include "sim/cli/cli.hpp"
#include "sim/report/report.hpp"
#include "workloads/loader.hpp"

namespace imcsim::cli {

namespace {

// "128x128" -> rows, cols.
std::pair<int64_t, int64_t> parse_array(const std::string& text) {
  static const std::regex re(R"(^(\d+)[xX](\d+)$)");
  std::smatch m;
  if (!std::regex_match(text, m, re))
    throw UsageError("", 0, "--array",
                     fmt::format("expected ROWSxCOLS (e.g. 128x128), got \"{}\"", text));
  return {parse_count("--array", m[1], 1, 65536), parse_count("--array", m[2], 1, 65536)};
}

// "I=224,K=3,IC=3,OC=64[,S=1,P=0,I_h=..,I_w=..,K_h=..,K_w=..,name=..]"
ConvShape parse_layer_spec(const std::string& text, int index, Convention convention) {
  const std::string flag = fmt::format("--layer {}", text);
  std::map<std::string, std::string> kv;
  std::stringstream ss(text);
  std::string part;
  const std::vector<std::string> keys = {"name", "I",  "I_h", "I_w", "K", "K_h",
                                         "K_w",  "IC", "OC",  "S",   "P"};
  while (std::getline(ss, part, ',')) {
    const auto eq = part.find('=');
    if (eq == std::string::npos)
      throw UsageError("", 0, flag, fmt::format("expected KEY=VALUE, got \"{}\"", part));
    const std::string key = part.substr(0, eq);
    if (std::find(keys.begin(), keys.end(), key) == keys.end())
      throw UsageError(
          "", 0, flag,
          fmt::format("unknown key \"{}\" (expected one of: {})", key, join_choices(keys)));
    if (!kv.emplace(key, part.substr(eq + 1)).second)
      throw UsageError("", 0, flag, fmt::format("key \"{}\" given twice", key));
  }
  auto get = [&](const std::string& key, const std::string& fallback_key, int64_t lo,
                 int64_t def) -> int64_t {
    auto it = kv.find(key);
    if (it == kv.end() && !fallback_key.empty()) it = kv.find(fallback_key);
    if (it == kv.end()) {
      if (def >= 0) return def;
      throw UsageError("", 0, flag,
                       fmt::format("missing {} (expected I=..,K=..,IC=..,OC=.. and optionally "
                                   "S, P, I_h, I_w, K_h, K_w, name)",
                                   fallback_key.empty() ? key : fallback_key));
    }
    return parse_count(fmt::format("{} {}", flag, it->first), it->second, lo, 1 << 20);
  };
  const std::string name = kv.count("name") ? kv["name"] : fmt::format("L{}", index);
  return ConvShape::make(name, get("I_h", "I", 1, -1), get("I_w", "I", 1, -1),
                         get("K_h", "K", 1, -1), get("K_w", "K", 1, -1), get("IC", "", 1, -1),
                         get("OC", "", 1, -1), get("S", "", 1, 1), get("P", "", 0, 0), convention);
}

Convention parse_convention(const std::string& s) {
  return s == "vwsdk" ? Convention::VwSdk : Convention::Framework;
}

struct MapOptions {
  std::string workload;
  std::vector<std::string> layers;
  std::string array = "128x128";
  std::string mapper = "auto";
  std::string convention = "framework";
  std::string format = "table";
  int weight_bits = 0;
  int cell_bits = 0;
  std::string signed_encoding = "offset";
  std::string output;
};

int cmd_map(const MapOptions& o) {
  if (o.workload.empty() == o.layers.empty())
    throw UsageError("", 0, "map", "give either --workload NAME|FILE or one or more --layer SPEC");
  if (o.cell_bits && !o.weight_bits)
    throw UsageError("", 0, "--cell-bits", "needs --weight-bits as well");
  const auto [rows, cols] = parse_array(o.array);
  const Convention convention = parse_convention(o.convention);
  ArrayGeometry geom = ArrayGeometry::ideal(rows, cols);
  if (o.weight_bits) {
    geom = ArrayGeometry::sliced(rows, cols, o.weight_bits, o.cell_bits ? o.cell_bits : 1,
                                 o.signed_encoding == "differential");
  } else if (o.signed_encoding == "differential") {
    geom.cols_per_weight = 2;
  }

  std::vector<const MapperInfo*> mappers;
  if (o.mapper == "all") {
    for (const auto& m : mapper_registry()) mappers.push_back(&m);
  } else {
    mappers.push_back(&find_mapper(o.mapper));
  }

  Network net;
  std::vector<ConvShape> shapes;
  if (!o.workload.empty()) {
    net = load_workload(o.workload);
    for (const auto& l : net.layers)
      if (l.on_arrays()) shapes.push_back(conv_shape(l, convention));
  } else {
    net.name = "layers";
    for (size_t i = 0; i < o.layers.size(); ++i)
      shapes.push_back(parse_layer_spec(o.layers[i], static_cast<int>(i), convention));
  }

  std::vector<NetworkMapping> results;
  for (const MapperInfo* m : mappers) {
    NetworkMapping nm;
    nm.network = net.name;
    nm.mapper = m->name;
    nm.convention = convention;
    nm.array = geom;
    for (const auto& s : shapes) nm.layers.push_back(map_layer(*m, s, geom));
    results.push_back(std::move(nm));
  }

  if (o.format == "csv") {
    emit(mappings_csv(results), o.output);
  } else if (o.format == "json") {
    emit(mappings_json(results).dump(2) + "\n", o.output);
  } else {
    emit(mappings_table(results), o.output);
  }
  return 0;
}

}  // namespace

void register_map_command(CLI::App& app, CommandContext& ctx) {
  auto o = std::make_shared<MapOptions>();
  auto* map = app.add_subcommand("map", "analytic mapping of a workload or of single layers");
  map->add_option("--workload", o->workload, "built-in workload name or workload .yaml path");
  map->add_option("--layer", o->layers,
                  "a layer I=..,K=..,IC=..,OC=..[,S=..,P=..,I_h,I_w,K_h,K_w,name] (repeatable)");
  map->add_option("--array", o->array, "array size ROWSxCOLS")->capture_default_str();
  std::vector<std::string> mapper_choices = mapper_names();
  mapper_choices.push_back("all");
  map->add_option("--mapper", o->mapper, "mapper name, or all")
      ->check(CLI::IsMember(mapper_choices))
      ->capture_default_str();
  map->add_option("--convention", o->convention, "shape convention (REFERENCE §1)")
      ->check(CLI::IsMember({"framework", "vwsdk"}))
      ->capture_default_str();
  map->add_option("--format", o->format, "output format")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
  map->add_option("--weight-bits", o->weight_bits,
                  "weight bits; with --cell-bits gives bit-sliced columns (default: one weight "
                  "per column)")
      ->check(CLI::Range(1, 32));
  map->add_option("--cell-bits", o->cell_bits, "bits per cell (default 1 with --weight-bits)")
      ->check(CLI::Range(1, 8));
  map->add_option("--signed-encoding", o->signed_encoding, "offset or differential (2x columns)")
      ->check(CLI::IsMember({"offset", "differential"}))
      ->capture_default_str();
  map->add_option("-o,--output", o->output, "write to this file instead of standard output");
  map->callback([o, &ctx] { ctx.exit_code = cmd_map(*o); });
}

}  // namespace imcsim::cli
