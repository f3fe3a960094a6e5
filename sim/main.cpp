// imcsim command-line interface. The only place an imcsim::Error becomes an exit code:
//   0 success, 1 bad input (config, workload, mapping, output), 2 bad command line.
#include <iostream>
#include <map>
#include <regex>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "mappers/mapper.hpp"
#include "sim/config.hpp"
#include "sim/report.hpp"
#include "sim/run.hpp"
#include "sim/version.hpp"
#include "workloads/loader.hpp"

using namespace imcsim;

namespace {

struct UsageError : Error {
  using Error::Error;
};

int64_t parse_count(const std::string& flag, const std::string& text, int64_t lo, int64_t hi) {
  try {
    size_t used = 0;
    const long long v = std::stoll(text, &used);
    if (used == text.size() && v >= lo && v <= hi) return v;
  } catch (const std::exception&) {
  }
  throw UsageError("", 0, flag,
                   fmt::format("expected an integer in {}..{}, got \"{}\"", lo, hi, text));
}

// "128x128" -> rows, cols.
std::pair<int64_t, int64_t> parse_array(const std::string& text) {
  static const std::regex re(R"(^(\d+)[xX](\d+)$)");
  std::smatch m;
  if (!std::regex_match(text, m, re))
    throw UsageError("", 0, "--array", fmt::format("expected ROWSxCOLS (e.g. 128x128), got \"{}\"", text));
  return {parse_count("--array", m[1], 1, 65536), parse_count("--array", m[2], 1, 65536)};
}

// "I=224,K=3,IC=3,OC=64[,S=1,P=0,I_h=..,I_w=..,K_h=..,K_w=..,name=..]"
ConvShape parse_layer_spec(const std::string& text, int index, Convention convention) {
  const std::string flag = fmt::format("--layer {}", text);
  std::map<std::string, std::string> kv;
  std::stringstream ss(text);
  std::string part;
  const std::vector<std::string> keys = {"name", "I", "I_h", "I_w", "K",  "K_h",
                                         "K_w",  "IC", "OC",  "S",   "P"};
  while (std::getline(ss, part, ',')) {
    const auto eq = part.find('=');
    if (eq == std::string::npos)
      throw UsageError("", 0, flag, fmt::format("expected KEY=VALUE, got \"{}\"", part));
    const std::string key = part.substr(0, eq);
    if (std::find(keys.begin(), keys.end(), key) == keys.end())
      throw UsageError("", 0, flag,
                       fmt::format("unknown key \"{}\" (expected one of: {})", key,
                                   join_choices(keys)));
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

void emit(const std::string& text, const std::string& output_file) {
  if (output_file.empty()) {
    std::cout << text;
  } else {
    write_file_atomic(output_file, text);
  }
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

int cmd_run(const std::string& file, const std::string& output_root, bool quiet) {
  const ExperimentSpec spec = load_experiment_file(file);
  const RunResult r = run_analytic(spec, output_root.empty() ? spec.output_dir : output_root);
  if (!quiet) std::cout << mappings_table(r.mappings);
  std::cerr << "imcsim: wrote " << r.dir << "/{resolved.yaml,summary.json,layers.csv}\n";
  return 0;
}

int cmd_list(const std::string& what) {
  if (what.empty() || what == "mappers") {
    std::cout << "mappers:\n";
    for (const auto& m : mapper_registry()) {
      std::cout << fmt::format("  {:<8} {} [{}]\n", m.name, m.description, m.reference);
      for (const auto& p : m.params)
        std::cout << fmt::format("           {} (default {}): {}\n", p.name, p.default_value,
                                 p.description);
    }
  }
  if (what.empty() || what == "workloads") {
    std::cout << "workloads (built-in names; any workload .yaml path works too):\n";
    for (const auto& n : builtin_workloads()) {
      const Network net = load_workload(n);
      int64_t array_layers = 0;
      for (const auto& l : net.layers) array_layers += l.on_arrays() ? 1 : 0;
      std::cout << fmt::format("  {:<10} {}x{}x{} input, {} layers ({} on arrays), {} params, "
                               "{} MACs\n",
                               n, net.input.h, net.input.w, net.input.c, net.layers.size(),
                               array_layers, net.parameter_count(), net.total_macs());
    }
  }
  if (what.empty() || what == "arch") {
    std::cout << "architecture parameters (under `arch:`):\n";
    for (const auto& p : arch_params()) {
      const std::string range = p.choices.empty() ? fmt::format("{}..{}", p.lo, p.hi)
                                                  : join_choices(p.choices);
      std::cout << fmt::format("  {:<16} {:<22} default {:<10} {} [{}]\n", p.key, range,
                               p.default_value.empty() ? "(required)" : p.default_value,
                               p.description, p.source);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"imcsim: cycle-accurate IMC accelerator simulator (analytic mapping front end)"};
  app.set_version_flag("--version", std::string("imcsim ") + kVersion);
  app.require_subcommand(1);

  MapOptions mo;
  auto* map = app.add_subcommand("map", "analytic mapping of a workload or of single layers");
  map->add_option("--workload", mo.workload, "built-in workload name or workload .yaml path");
  map->add_option("--layer", mo.layers,
                  "a layer I=..,K=..,IC=..,OC=..[,S=..,P=..,I_h,I_w,K_h,K_w,name] (repeatable)");
  map->add_option("--array", mo.array, "array size ROWSxCOLS")->capture_default_str();
  std::vector<std::string> mapper_choices = mapper_names();
  mapper_choices.push_back("all");
  map->add_option("--mapper", mo.mapper, "mapper name, or all")
      ->check(CLI::IsMember(mapper_choices))
      ->capture_default_str();
  map->add_option("--convention", mo.convention, "shape convention (REFERENCE §1)")
      ->check(CLI::IsMember({"framework", "vwsdk"}))
      ->capture_default_str();
  map->add_option("--format", mo.format, "output format")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
  map->add_option("--weight-bits", mo.weight_bits,
                  "weight bits; with --cell-bits gives bit-sliced columns (default: one weight per column)")
      ->check(CLI::Range(1, 32));
  map->add_option("--cell-bits", mo.cell_bits, "bits per cell (default 1 with --weight-bits)")
      ->check(CLI::Range(1, 8));
  map->add_option("--signed-encoding", mo.signed_encoding, "offset or differential (2x columns)")
      ->check(CLI::IsMember({"offset", "differential"}))
      ->capture_default_str();
  map->add_option("-o,--output", mo.output, "write to this file instead of standard output");

  std::string run_file, run_out;
  bool quiet = false;
  auto* run = app.add_subcommand("run", "run an experiment YAML; writes out/<run-id>/");
  run->add_option("experiment", run_file, "experiment .yaml")->required();
  run->add_option("-o,--output-dir", run_out, "output root (default: output_dir of the experiment)");
  run->add_flag("-q,--quiet", quiet, "do not print the per-layer table");

  std::string validate_file;
  auto* validate = app.add_subcommand("validate", "check an experiment YAML and print it resolved");
  validate->add_option("experiment", validate_file, "experiment .yaml")->required();

  std::string list_what;
  auto* list = app.add_subcommand("list", "list mappers, workloads and architecture parameters");
  list->add_option("what", list_what, "mappers, workloads or arch (default: all)")
      ->check(CLI::IsMember({"mappers", "workloads", "arch"}));

  // Name an unknown command word instead of CLI11's generic "A subcommand is required".
  if (argc > 1 && argv[1][0] != '-') {
    const std::string word = argv[1];
    bool known = false;
    for (const auto* sub : app.get_subcommands({})) known = known || sub->get_name() == word;
    if (!known) {
      std::cerr << "imcsim: error: unknown command \"" << word
                << "\" (expected map, run, validate or list)\n";
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "imcsim: error: " << e.what() << "\n(run with --help for usage)\n";
    return 2;
  }

  try {
    if (*map) return cmd_map(mo);
    if (*run) return cmd_run(run_file, run_out, quiet);
    if (*validate) {
      std::cout << resolved_yaml(load_experiment_file(validate_file));
      return 0;
    }
    if (*list) return cmd_list(list_what);
  } catch (const UsageError& e) {
    std::cerr << "imcsim: error: " << e.what() << "\n";
    return 2;
  } catch (const Error& e) {
    std::cerr << "imcsim: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "imcsim: internal error: " << e.what() << "\n";
    return 3;
  }
  return 0;
}
