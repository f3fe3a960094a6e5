#include "sim/config/config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "mappers/mapper.hpp"
#include "sim/config/param.hpp"
#include "workloads/input_file.hpp"
#include "workloads/loader.hpp"

namespace fs = std::filesystem;

namespace imcsim {

ParamTable arch_param_table() {
  ParamTable t{"arch", "architecture parameters (under `arch:`):", {}};
  auto& p = t.params;
  p.push_back(Param::integer("rows", 1, 65536)
                  .required()
                  .units("wordlines")
                  .desc("crossbar rows (AR)")
                  .src("required"));
  p.push_back(Param::integer("cols", 1, 65536)
                  .required()
                  .units("bitlines")
                  .desc("crossbar columns (AC)")
                  .src("required"));
  p.push_back(Param::integer("cell_bits", 1, 8)
                  .default_val(2)
                  .units("bits")
                  .desc("bits stored per cell")
                  .src("ISAAC (Shafiee et al., ISCA 2016): 2-bit ReRAM cells"));
  p.push_back(Param::integer("weight_bits", 1, 32)
                  .default_val(8)
                  .units("bits")
                  .desc("weight precision")
                  .src("DNN+NeuroSim V1 default: 8-bit weights"));
  p.push_back(Param::integer("input_bits", 1, 32)
                  .default_val(8)
                  .units("bits")
                  .desc("activation (input) precision")
                  .src("DNN+NeuroSim V1 default: 8-bit activations"));
  p.push_back(Param::integer("dac_bits", 1, 8)
                  .default_val(1)
                  .units("bits")
                  .desc("DAC resolution; an input takes ceil(input_bits / dac_bits) phases")
                  .src("ISAAC: 1-bit DACs, bit-serial inputs"));
  p.push_back(Param::integer("adc_bits", 1, 16)
                  .default_val(8)
                  .units("bits")
                  .desc("ADC resolution")
                  .src("ISAAC: 8-bit ADC per 128x128 crossbar"));
  p.push_back(Param::integer("adc_share", 1, 65536)
                  .default_val(8)
                  .units("columns")
                  .desc("columns sharing one ADC through a mux")
                  .src("DNN+NeuroSim V1 default: 8 columns multiplexed per ADC"));
  p.push_back(Param::integer("arrays", 1, 1 << 24)
                  .default_val(64)
                  .units("arrays")
                  .desc("crossbar arrays on the chip")
                  .src("ISAAC tile: 8 IMAs x 8 crossbars"));
  p.push_back(
      Param::choice("signed_encoding", {"offset", "differential"})
          .default_val("offset")
          .desc("signed weights: offset (bias) encoding, or a differential pair (2x columns)")
          .src("ISAAC: biased (offset) weight encoding"));
  return t;
}

namespace {

// The ArchSpec field of each integer arch parameter (signed_encoding is the one choice).
int64_t ArchSpec::*arch_field(const std::string& key) {
  static const std::pair<const char*, int64_t ArchSpec::*> fields[] = {
      {"rows", &ArchSpec::rows},
      {"cols", &ArchSpec::cols},
      {"cell_bits", &ArchSpec::cell_bits},
      {"weight_bits", &ArchSpec::weight_bits},
      {"input_bits", &ArchSpec::input_bits},
      {"dac_bits", &ArchSpec::dac_bits},
      {"adc_bits", &ArchSpec::adc_bits},
      {"adc_share", &ArchSpec::adc_share},
      {"arrays", &ArchSpec::arrays}};
  for (const auto& [k, f] : fields)
    if (key == k) return f;
  return nullptr;
}

}  // namespace

const std::vector<ArchParam>& arch_params() {
  static const std::vector<ArchParam> params = [] {
    std::vector<ArchParam> out;
    for (const Param& p : param_table("arch").params) {
      out.push_back({p.key, p.lo, p.hi, p.choices, p.has_default() ? p.default_text : "", p.unit,
                     p.description, p.source, arch_field(p.key)});
    }
    return out;
  }();
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
  for (const auto& k : param_table("arch").keys()) keys.push_back(k);
  node.allow_only(keys);

  ArchSpec a;
  a.name = node.get_string("name", "custom");
  for (const auto& p : param_table("arch").params) {
    if (p.type == ParamType::Choice) {
      a.signed_encoding = param_choice(node, p);
    } else {
      a.*arch_field(p.key) = param_int(node, p);
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
  for (const auto& p : param_table("arch").params) {
    out << YAML::Key << p.key << YAML::Value;
    if (const auto field = arch_field(p.key)) {
      out << e.arch.*field;
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
