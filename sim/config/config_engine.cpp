#include "sim/config/config_engine.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <set>

#include "workloads/input_file.hpp"

namespace fs = std::filesystem;

namespace imcsim {

namespace {

struct TimingKey {
  const char* key;
  int64_t TimingParams::*field;
  int64_t lo, hi;
};

const TimingKey kTimingKeys[] = {
    {"t_dac", &TimingParams::t_dac, 0, 1 << 20},
    {"t_read", &TimingParams::t_read, 0, 1 << 20},
    {"t_adc", &TimingParams::t_adc, 0, 1 << 20},
    {"t_route", &TimingParams::t_route, 0, 1 << 20},
    {"t_shift_add", &TimingParams::t_shift_add, 0, 1 << 20},
    {"t_accumulate", &TimingParams::t_accumulate, 0, 1 << 20},
    {"input_bits_per_clock", &TimingParams::input_bits_per_clock, 1, int64_t{1} << 40},
    {"output_bits_per_clock", &TimingParams::output_bits_per_clock, 1, int64_t{1} << 40},
    {"accumulator_bits", &TimingParams::accumulator_bits, 1, 64},
    {"t_program_row", &TimingParams::t_program_row, 0, 1 << 30},
    {"digital_ops_per_clock", &TimingParams::digital_ops_per_clock, 1, int64_t{1} << 40},
};

std::string configs_dir() {
  return IMCSIM_CONFIGS_DIR;
}

}  // namespace

const char* energy_key(Event e) {
  switch (e) {
    case Event::DacConversion: return "dac_conversion";
    case Event::WordlineActivation: return "wordline_activation";
    case Event::CellRead: return "cell_read";
    case Event::AdcConversion: return "adc_conversion";
    case Event::ShiftAdd: return "shift_add";
    case Event::AccumulatorAdd: return "accumulator_add";
    case Event::BufferReadBit: return "buffer_read_bit";
    case Event::BufferWriteBit: return "buffer_write_bit";
    case Event::RouterPixel: return "router_pixel";
    case Event::CellWrite: return "cell_write";
    case Event::DigitalOp: return "digital_op";
    case Event::kCount: break;
  }
  return "?";
}

EnergyTable TechSpec::table_for(int64_t adc_bits) const {
  EnergyTable t = energy;
  if (adc_fom_fj > 0) {
    t.pj[static_cast<size_t>(Event::AdcConversion)] =
        adc_fom_fj * 1e-3 * static_cast<double>(int64_t{1} << adc_bits);
  }
  return t;
}

TechSpec parse_tech(const YamlNode& node) {
  node.expect_map();
  node.allow_only({"name", "timing", "energy_pj", "leakage_mw_per_array", "area_um2"});
  TechSpec t;
  t.file = node.file();
  t.name = node.get_string("name", fs::path(node.file()).stem().string());
  t.energy.name = t.name;

  const YamlNode timing = node.child("timing");
  std::vector<std::string> tkeys = {"clock_ns"};
  for (const auto& k : kTimingKeys) tkeys.push_back(k.key);
  timing.allow_only(tkeys);
  t.timing.clock_ns = timing.child("clock_ns").as_number(1e-6, 1e6);
  for (const auto& k : kTimingKeys) t.timing.*k.field = timing.child(k.key).as_int(k.lo, k.hi);

  const YamlNode energy = node.child("energy_pj");
  std::vector<std::string> ekeys = {"adc_walden_fom_fj"};
  for (int i = 0; i < kEventCount; ++i) ekeys.push_back(energy_key(static_cast<Event>(i)));
  energy.allow_only(ekeys);
  const bool has_fixed = energy.has("adc_conversion"), has_fom = energy.has("adc_walden_fom_fj");
  if (has_fixed == has_fom) {
    energy.fail(
        "give exactly one of adc_conversion (pJ per conversion) or adc_walden_fom_fj "
        "(fJ per conversion step)");
  }
  for (int i = 0; i < kEventCount; ++i) {
    const Event e = static_cast<Event>(i);
    if (e == Event::AdcConversion && has_fom) continue;
    t.energy.pj[static_cast<size_t>(i)] = energy.child(energy_key(e)).as_number(0, 1e9);
  }
  if (has_fom) t.adc_fom_fj = energy.child("adc_walden_fom_fj").as_number(1e-6, 1e6);
  t.energy.leakage_mw_per_array = node.child("leakage_mw_per_array").as_number(0, 1e9);
  const YamlNode area = node.child("area_um2");
  area.allow_only({"cell", "dac", "adc", "shift_add", "periphery_per_array"});
  t.area.cell_um2 = area.child("cell").as_number(0, 1e9);
  t.area.dac_um2 = area.child("dac").as_number(0, 1e9);
  t.area.adc_um2 = area.child("adc").as_number(0, 1e12);
  t.area.shift_add_um2 = area.child("shift_add").as_number(0, 1e12);
  t.area.periphery_um2_per_array = area.child("periphery_per_array").as_number(0, 1e12);
  return t;
}

TechSpec load_tech_file(const std::string& path) {
  const YamlNode root = YamlNode::load_file(path, ErrorKind::Config);
  if (root.is_null()) root.fail("empty technology file (expected a `tech:` mapping)");
  root.expect_map();
  root.allow_only({"tech"});
  return parse_tech(root.child("tech"));
}

std::vector<std::string> builtin_techs() {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(configs_dir()) / "tech", ec))
    if (e.path().extension() == ".yaml") names.insert(e.path().stem().string());
  return {names.begin(), names.end()};
}

std::string resolve_tech(const std::string& name, const std::string& relative_to_file) {
  const bool is_path = name.find('/') != std::string::npos || fs::path(name).extension() == ".yaml";
  if (is_path) {
    fs::path p(name);
    if (!p.is_absolute()) p = fs::path(relative_to_file).parent_path() / p;
    return p.lexically_normal().string();
  }
  const fs::path p = fs::path(configs_dir()) / "tech" / (name + ".yaml");
  if (!path_exists(p)) return "";
  return p.string();
}

EngineSpec default_engine(const std::string& experiment_file) {
  EngineSpec e;
  e.tech_name = "isaac-rram-32nm";
  e.tech = load_tech_file(resolve_tech(e.tech_name, experiment_file));
  return e;
}

EngineSpec parse_engine(const YamlNode& node, const std::string& experiment_file) {
  node.expect_map();
  node.allow_only({"tech", "functional", "input", "weights", "weight_map", "calibration", "trace",
                   "schedule_cycles"});
  EngineSpec e;
  e.tech_name = node.get_string("tech", "isaac-rram-32nm");
  const std::string path = resolve_tech(e.tech_name, experiment_file);
  if (path.empty() || !path_exists(path)) {
    const YamlNode where = node.find("tech") ? *node.find("tech") : node;
    where.fail(fmt::format("unknown technology \"{}\" (built-in: {}; or a path to a .yaml file)",
                           e.tech_name, join_choices(builtin_techs())));
  }
  e.tech = load_tech_file(path);
  e.functional = node.get_bool("functional", true);
  e.input = node.get_string("input", "seeded");
  if (e.input != "seeded") {
    fs::path p(e.input);
    if (!p.is_absolute()) p = fs::path(experiment_file).parent_path() / p;
    if (!path_exists(p))
      node.child("input").fail(
          fmt::format("input file \"{}\" does not exist (or use: seeded)", p.string()));
    e.input = p.lexically_normal().string();
  }
  e.weights = node.get_string("weights", "synthetic");
  if (e.weights != "synthetic") {
    fs::path p(e.weights);
    if (!p.is_absolute()) p = fs::path(experiment_file).parent_path() / p;
    if (!fs::is_directory(p))
      node.child("weights").fail(
          fmt::format("weights folder \"{}\" does not exist (or use: synthetic)", p.string()));
    e.weights = p.lexically_normal().string();
  }
  e.weight_map = node.get_string("weight_map", "");
  e.calibration = node.get_string("calibration", "dynamic");
  if (e.calibration != "dynamic") {
    fs::path p(e.calibration);
    if (!p.is_absolute()) p = fs::path(experiment_file).parent_path() / p;
    if (!regular_file_exists(p))
      node.child("calibration")
          .fail(fmt::format("calibration file \"{}\" does not exist (imcsim calibrate writes one; "
                            "or use: dynamic)",
                            p.string()));
    e.calibration = p.lexically_normal().string();
  }
  if (auto t = node.find("trace")) {
    if (t->is_scalar()) {
      e.trace = t->as_bool();
    } else {
      t->allow_only({"layers", "from_ns", "to_ns"});
      e.trace = true;
      if (auto l = t->find("layers")) {
        for (const auto& item : l->items()) e.trace_layers.push_back(item.as_string());
      }
      e.trace_from_ns = t->get_number("from_ns", 0, 1e18, 0);
      e.trace_to_ns = t->get_number("to_ns", 0, 1e18, -1);
    }
  }
  e.schedule_cycles = node.get_int("schedule_cycles", 0, int64_t{1} << 40, 0);
  return e;
}

void emit_engine_yaml(YAML::Emitter& out, const EngineSpec& e) {
  out << YAML::BeginMap;
  out << YAML::Key << "tech" << YAML::Value
      << (e.tech_name.find('/') == std::string::npos && fs::path(e.tech_name).extension() != ".yaml"
              ? e.tech_name
              : fs::absolute(e.tech.file).lexically_normal().string());
  out << YAML::Key << "functional" << YAML::Value << e.functional;
  out << YAML::Key << "input" << YAML::Value
      << (e.input == "seeded" ? e.input : fs::absolute(e.input).string());
  out << YAML::Key << "weights" << YAML::Value
      << (e.weights == "synthetic" ? e.weights : fs::absolute(e.weights).string());
  if (!e.weight_map.empty()) out << YAML::Key << "weight_map" << YAML::Value << e.weight_map;
  out << YAML::Key << "calibration" << YAML::Value
      << (e.calibration == "dynamic" ? e.calibration : fs::absolute(e.calibration).string());
  if (e.trace) {
    out << YAML::Key << "trace" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "layers" << YAML::Value << YAML::Flow << e.trace_layers;
    out << YAML::Key << "from_ns" << YAML::Value << e.trace_from_ns;
    if (e.trace_to_ns >= 0) out << YAML::Key << "to_ns" << YAML::Value << e.trace_to_ns;
    out << YAML::EndMap;
  } else {
    out << YAML::Key << "trace" << YAML::Value << false;
  }
  out << YAML::Key << "schedule_cycles" << YAML::Value << e.schedule_cycles;
  out << YAML::EndMap;
}

}  // namespace imcsim
