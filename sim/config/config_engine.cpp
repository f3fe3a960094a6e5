#include "sim/config/config_engine.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <set>

#include "sim/config/param.hpp"
#include "workloads/input_file.hpp"

namespace fs = std::filesystem;

namespace imcsim {

namespace {

// The TimingParams field of each integer timing key (clock_ns is the one real).
int64_t TimingParams::*timing_field(const std::string& key) {
  static const std::pair<const char*, int64_t TimingParams::*> fields[] = {
      {"t_dac", &TimingParams::t_dac},
      {"t_read", &TimingParams::t_read},
      {"t_adc", &TimingParams::t_adc},
      {"t_route", &TimingParams::t_route},
      {"t_shift_add", &TimingParams::t_shift_add},
      {"t_accumulate", &TimingParams::t_accumulate},
      {"input_bits_per_clock", &TimingParams::input_bits_per_clock},
      {"output_bits_per_clock", &TimingParams::output_bits_per_clock},
      {"accumulator_bits", &TimingParams::accumulator_bits},
      {"t_program_row", &TimingParams::t_program_row},
      {"digital_ops_per_clock", &TimingParams::digital_ops_per_clock},
  };
  for (const auto& [k, f] : fields)
    if (key == k) return f;
  return nullptr;
}

std::string configs_dir() {
  return IMCSIM_CONFIGS_DIR;
}

}  // namespace

ParamTable timing_param_table() {
  // Every key is required: a technology file states each latency with its source.
  ParamTable t{"timing",
               "timing parameters (under `tech: timing:` of a technology file, configs/tech; "
               "latencies in clocks):",
               {}};
  auto& p = t.params;
  const char* src = "required (each technology file cites its own)";
  p.push_back(Param::real("clock_ns", 1e-6, 1e6)
                  .required()
                  .units("ns")
                  .desc("engine clock period")
                  .src(src));
  auto clocks = [&](const char* key, int64_t hi, const char* what) {
    p.push_back(Param::integer(key, 0, hi).required().units("clocks").desc(what).src(src));
  };
  clocks("t_dac", 1 << 20, "DAC settle, per phase");
  clocks("t_read", 1 << 20, "wordline drive + bitline settle + sample-and-hold, per phase");
  clocks("t_adc", 1 << 20, "one ADC conversion");
  clocks("t_route", 1 << 20, "SDK router: drive a fetched window onto the wordlines");
  clocks("t_shift_add", 1 << 20, "merge phases and slices of one computing cycle");
  clocks("t_accumulate", 1 << 20, "one partial-sum write into a column tile's accumulator");
  p.push_back(Param::integer("input_bits_per_clock", 1, int64_t{1} << 40)
                  .required()
                  .units("bits/clock")
                  .desc("global input buffer read bandwidth (shared)")
                  .src(src));
  p.push_back(Param::integer("output_bits_per_clock", 1, int64_t{1} << 40)
                  .required()
                  .units("bits/clock")
                  .desc("output buffer write bandwidth (shared)")
                  .src(src));
  p.push_back(Param::integer("accumulator_bits", 1, 64)
                  .required()
                  .units("bits")
                  .desc("width of a stored partial sum")
                  .src(src));
  clocks("t_program_row", 1 << 30, "write one row of an array (reprogramming)");
  p.push_back(Param::integer("digital_ops_per_clock", 1, int64_t{1} << 40)
                  .required()
                  .units("ops/clock")
                  .desc("residual add / pooling / activation / requantization")
                  .src(src));
  return t;
}

ParamTable engine_param_table() {
  // Defaults of the struct initializers of EngineSpec (config_engine.hpp), read back here.
  const EngineSpec d;
  ParamTable t{"engine", "engine parameters (under `engine:`, mode cycle):", {}};
  auto& p = t.params;
  p.push_back(Param::text("tech")
                  .default_val("isaac-rram-32nm")
                  .values("a configs/tech name or a .yaml path")
                  .desc("technology: timing, action energies, area (imcsim list tech)")
                  .src("ISAAC (Shafiee et al., ISCA 2016), 32 nm ReRAM"));
  p.push_back(Param::boolean("functional")
                  .default_val(d.functional)
                  .desc("real integer values through the datapath (false: timing only)")
                  .src("choice: a run checks its numbers"));
  p.push_back(Param::text("input")
                  .default_val(d.input)
                  .values("seeded or a .pb path")
                  .desc("input image: seeded uniform [0,1), or a TensorProto file")
                  .src("choice"));
  p.push_back(Param::text("weights")
                  .default_val(d.weights)
                  .values("synthetic or a folder")
                  .desc("weights: seeded synthetic, or a folder of .npy tensors")
                  .src("choice"));
  p.push_back(Param::text("weight_map")
                  .optional("built-in map")
                  .values("a name-map .yaml")
                  .desc("names of the .npy tensors of each layer (workloads/weight_maps)")
                  .src("choice"));
  p.push_back(Param::text("calibration")
                  .default_val(d.calibration)
                  .values("dynamic or a .yaml path")
                  .desc("activation ranges: each tensor's own, or an imcsim calibrate file")
                  .src("choice"));
  p.push_back(Param::boolean("trace")
                  .default_val(d.trace)
                  .values("true, false or a mapping")
                  .desc("write trace.vcd; a mapping of layers / from_ns / to_ns narrows it")
                  .src("choice: traces are large"));
  p.push_back(Param::text("trace.layers")
                  .optional("all")
                  .values("a list of layer names")
                  .desc("layers the trace records")
                  .src("choice"));
  p.push_back(Param::real("trace.from_ns", 0, 1e18)
                  .default_val(d.trace_from_ns)
                  .units("ns")
                  .desc("start of the traced window")
                  .src("choice"));
  p.push_back(Param::real("trace.to_ns", 0, 1e18)
                  .optional("to the end")
                  .units("ns")
                  .desc("end of the traced window")
                  .src("choice"));
  p.push_back(Param::integer("schedule_cycles", 0, int64_t{1} << 40)
                  .default_val(d.schedule_cycles)
                  .units("cycles")
                  .desc("> 0: write schedule.yaml listing this many computing cycles")
                  .src("choice: off"));
  return t;
}

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
  const ParamTable& tt = param_table("timing");
  timing.allow_only(tt.keys());
  for (const auto& p : tt.params) {
    if (const auto field = timing_field(p.key)) {
      t.timing.*field = param_int(timing, p);
    } else {
      t.timing.clock_ns = param_real(timing, p);
    }
  }

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
  e.tech_name = param_table("engine").at("tech").default_text;
  e.tech = load_tech_file(resolve_tech(e.tech_name, experiment_file));
  return e;
}

EngineSpec parse_engine(const YamlNode& node, const std::string& experiment_file) {
  node.expect_map();
  const ParamTable& t = param_table("engine");
  node.allow_only(t.keys());
  EngineSpec e;
  e.tech_name = param_text(node, t, "tech");
  const std::string path = resolve_tech(e.tech_name, experiment_file);
  if (path.empty() || !path_exists(path)) {
    const YamlNode where = node.find("tech") ? *node.find("tech") : node;
    where.fail(fmt::format("unknown technology \"{}\" (built-in: {}; or a path to a .yaml file)",
                           e.tech_name, join_choices(builtin_techs())));
  }
  e.tech = load_tech_file(path);
  e.functional = param_bool(node, t, "functional");
  e.input = param_text(node, t, "input");
  if (e.input != "seeded") {
    fs::path p(e.input);
    if (!p.is_absolute()) p = fs::path(experiment_file).parent_path() / p;
    if (!path_exists(p))
      node.child("input").fail(
          fmt::format("input file \"{}\" does not exist (or use: seeded)", p.string()));
    e.input = p.lexically_normal().string();
  }
  e.weights = param_text(node, t, "weights");
  if (e.weights != "synthetic") {
    fs::path p(e.weights);
    if (!p.is_absolute()) p = fs::path(experiment_file).parent_path() / p;
    if (!fs::is_directory(p))
      node.child("weights").fail(
          fmt::format("weights folder \"{}\" does not exist (or use: synthetic)", p.string()));
    e.weights = p.lexically_normal().string();
  }
  if (node.has("weight_map")) e.weight_map = param_text(node, t, "weight_map");
  e.calibration = param_text(node, t, "calibration");
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
  if (auto tr = node.find("trace")) {
    if (tr->is_scalar()) {
      e.trace = param_bool(node, t, "trace");
    } else {
      tr->allow_only(t.keys("trace"));
      e.trace = true;
      if (auto l = tr->find("layers")) {
        for (const auto& item : l->items()) e.trace_layers.push_back(item.as_string());
      }
      e.trace_from_ns = param_real(*tr, t, "trace.from_ns");
      if (tr->has("to_ns")) e.trace_to_ns = param_real(*tr, t, "trace.to_ns");
    }
  }
  e.schedule_cycles = param_int(node, t, "schedule_cycles");
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
