#include "sim/config/config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "mappers/mapper.hpp"
#include "workloads/input_file.hpp"
#include "workloads/loader.hpp"

namespace fs = std::filesystem;

namespace imcsim {

const std::vector<ArchParam>& arch_params() {
  static const std::vector<ArchParam> params = {
      {"rows", 1, 65536, {}, "", "wordlines", "crossbar rows (AR)", "required", &ArchSpec::rows},
      {"cols", 1, 65536, {}, "", "bitlines", "crossbar columns (AC)", "required", &ArchSpec::cols},
      {"cell_bits",
       1,
       8,
       {},
       "2",
       "bits",
       "bits stored per cell",
       "ISAAC (Shafiee et al., ISCA 2016): 2-bit ReRAM cells",
       &ArchSpec::cell_bits},
      {"weight_bits",
       1,
       32,
       {},
       "8",
       "bits",
       "weight precision",
       "DNN+NeuroSim V1 default: 8-bit weights",
       &ArchSpec::weight_bits},
      {"input_bits",
       1,
       32,
       {},
       "8",
       "bits",
       "activation (input) precision",
       "DNN+NeuroSim V1 default: 8-bit activations",
       &ArchSpec::input_bits},
      {"dac_bits",
       1,
       8,
       {},
       "1",
       "bits",
       "DAC resolution; an input takes ceil(input_bits / dac_bits) phases",
       "ISAAC: 1-bit DACs, bit-serial inputs",
       &ArchSpec::dac_bits},
      {"adc_bits",
       1,
       16,
       {},
       "8",
       "bits",
       "ADC resolution",
       "ISAAC: 8-bit ADC per 128x128 crossbar",
       &ArchSpec::adc_bits},
      {"adc_share",
       1,
       65536,
       {},
       "8",
       "columns",
       "columns sharing one ADC through a mux",
       "DNN+NeuroSim V1 default: 8 columns multiplexed per ADC",
       &ArchSpec::adc_share},
      {"arrays",
       1,
       1 << 24,
       {},
       "64",
       "arrays",
       "crossbar arrays on the chip",
       "ISAAC tile: 8 IMAs x 8 crossbars",
       &ArchSpec::arrays},
      {"signed_encoding",
       0,
       0,
       {"offset", "differential"},
       "offset",
       "",
       "signed weights: offset (bias) encoding, or a differential pair (2x columns)",
       "ISAAC: biased (offset) weight encoding",
       nullptr},
  };
  return params;
}

ArrayGeometry ArchSpec::geometry() const {
  return ArrayGeometry::sliced(rows, cols, weight_bits, cell_bits,
                               signed_encoding == "differential");
}

int64_t ArchSpec::lossless_adc_bits() const {
  return imcsim::lossless_adc_bits(rows, cell_bits, dac_bits);
}

ArchSpec parse_arch(const YamlNode& node) {
  node.expect_map();
  std::vector<std::string> keys = {"name"};
  for (const auto& p : arch_params()) keys.push_back(p.key);
  node.allow_only(keys);

  ArchSpec a;
  a.name = node.get_string("name", "custom");
  for (const auto& p : arch_params()) {
    if (!p.choices.empty()) {
      a.signed_encoding = node.get_choice(p.key, p.choices, p.default_value);
    } else if (p.default_value.empty()) {
      a.*p.field = node.child(p.key).as_int(p.lo, p.hi);
    } else {
      a.*p.field = node.get_int(p.key, p.lo, p.hi, std::stoll(p.default_value));
    }
  }

  // Cross-parameter checks: architectures that cannot exist. The error points at the key
  // when it was written, else at the arch mapping, and says when a default is to blame.
  auto fail_at = [&](const std::string& key, const std::string& message) {
    if (auto n = node.find(key)) n->fail(message);
    const std::string path = node.path().empty() ? key : node.path() + "." + key;
    throw_error(node.kind(), node.file(), node.line(), path,
                message + " (from the default; set " + key + ")");
  };
  const ArrayGeometry g = a.geometry();
  if (g.weight_cols() < 1) {
    fail_at("cols",
            fmt::format("array of {} columns cannot hold one weight: {}-bit weights on "
                        "{}-bit cells with {} encoding need {} columns",
                        a.cols, a.weight_bits, a.cell_bits, a.signed_encoding, g.cols_per_weight));
  }
  if (a.dac_bits > a.input_bits) {
    fail_at("dac_bits",
            fmt::format("expected at most input_bits ({}), got {}", a.input_bits, a.dac_bits));
  }
  if (a.adc_share > a.cols) {
    fail_at("adc_share",
            fmt::format("expected at most cols ({}) columns per ADC, got {}", a.cols, a.adc_share));
  }
  return a;
}

ArchSpec load_arch_file(const std::string& path) {
  const YamlNode root = YamlNode::load_file(path, ErrorKind::Config);
  if (root.is_null()) root.fail("empty architecture file (expected an `arch:` mapping)");
  root.expect_map();
  root.allow_only({"arch"});
  return parse_arch(root.child("arch"));
}

namespace {

// Paths inside an experiment are relative to the experiment file's folder.
std::string relative_to(const std::string& file, const std::string& path) {
  const fs::path p(path);
  if (p.is_absolute()) return path;
  return (fs::path(file).parent_path() / p).lexically_normal().string();
}

}  // namespace

ExperimentSpec parse_experiment(const YamlNode& root) {
  if (root.is_null()) root.fail("empty experiment file (expected keys workload, arch, mappers)");
  root.expect_map();
  root.allow_only({"name", "description", "workload", "arch", "mappers", "convention", "mode",
                   "engine", "output_dir", "seed", "compression", "limits"});
  ExperimentSpec e;
  e.file = root.file();
  e.name = root.get_string("name", fs::path(root.file()).stem().string());
  for (char c : e.name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      root.child("name").fail_expected("a name of letters, digits, '-', '_' and '.'");
  }
  e.description = root.get_string("description", "");

  const YamlNode wl = root.child("workload");
  e.workload = wl.as_string();
  try {
    const bool is_path =
        e.workload.find('/') != std::string::npos || fs::path(e.workload).extension() == ".yaml";
    e.workload_file = resolve_workload(is_path ? relative_to(e.file, e.workload) : e.workload);
  } catch (const WorkloadError& err) {
    wl.fail(err.message());
  }

  const YamlNode arch = root.child("arch");
  if (arch.is_scalar()) {
    const std::string path = relative_to(e.file, arch.as_string());
    if (!path_exists(path)) arch.fail(fmt::format("architecture file \"{}\" does not exist", path));
    e.arch = load_arch_file(path);
  } else {
    e.arch = parse_arch(arch);
  }

  const YamlNode mappers = root.child("mappers");
  std::vector<YamlNode> items = mappers.is_seq() ? mappers.items() : std::vector<YamlNode>{mappers};
  if (items.empty()) mappers.fail_expected("at least one mapper");
  for (const auto& m : items) {
    const std::string name = m.as_choice(mapper_names());
    for (const auto& seen : e.mappers)
      if (seen == name) m.fail(fmt::format("mapper \"{}\" listed twice", name));
    e.mappers.push_back(name);
  }

  e.convention = root.get_choice("convention", {"framework", "vwsdk"}, "framework") == "vwsdk"
                     ? Convention::VwSdk
                     : Convention::Framework;
  e.mode = root.get_choice("mode", {"analytic", "cycle"}, "analytic") == "cycle"
               ? RunMode::Cycle
               : RunMode::Analytic;
  if (e.mode == RunMode::Cycle) {
    // One engine elaboration per process: a cycle-accurate run executes one mapper.
    if (e.mappers.size() != 1) {
      mappers.fail(
          fmt::format("mode cycle runs one mapper per run, got {} (sweep over mappers "
                      "to compare them)",
                      e.mappers.size()));
    }
    e.engine =
        root.has("engine") ? parse_engine(root.child("engine"), e.file) : default_engine(e.file);
  } else if (auto eng = root.find("engine")) {
    e.engine = parse_engine(*eng, e.file);
  }
  e.output_dir = root.get_string("output_dir", "out");
  if (e.output_dir.empty()) root.child("output_dir").fail_expected("a directory path");
  e.seed = root.get_int("seed", 0, (1LL << 62), 1);
  e.compression = parse_compression(root, e.workload_file);
  e.limits = parse_limits(root, &e.limits_given);
  return e;
}

ExperimentSpec load_experiment_file(const std::string& path) {
  return parse_experiment(YamlNode::load_file(path, ErrorKind::Config));
}

std::string resolved_yaml(const ExperimentSpec& e) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << e.name;
  if (!e.description.empty()) out << YAML::Key << "description" << YAML::Value << e.description;
  // A built-in name stays a name; a path becomes absolute so the copy runs from anywhere.
  const bool builtin =
      e.workload.find('/') == std::string::npos && fs::path(e.workload).extension() != ".yaml";
  out << YAML::Key << "workload" << YAML::Value
      << (builtin ? e.workload : fs::absolute(e.workload_file).lexically_normal().string());
  out << YAML::Key << "arch" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << e.arch.name;
  for (const auto& p : arch_params()) {
    out << YAML::Key << p.key << YAML::Value;
    if (p.field) {
      out << e.arch.*p.field;
    } else {
      out << e.arch.signed_encoding;
    }
  }
  out << YAML::EndMap;
  out << YAML::Key << "mappers" << YAML::Value << YAML::Flow << e.mappers;
  out << YAML::Key << "convention" << YAML::Value << to_string(e.convention);
  out << YAML::Key << "mode" << YAML::Value << (e.mode == RunMode::Cycle ? "cycle" : "analytic");
  if (e.mode == RunMode::Cycle) {
    out << YAML::Key << "engine" << YAML::Value;
    emit_engine_yaml(out, e.engine);
  }
  out << YAML::Key << "output_dir" << YAML::Value << e.output_dir;
  out << YAML::Key << "seed" << YAML::Value << e.seed;
  if (e.compression) emit_compression(out, *e.compression);
  if (e.limits_given) {
    out << YAML::Key << "limits" << YAML::Value;
    emit_limits(out, e.limits);
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace imcsim
