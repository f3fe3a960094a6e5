// The `engine:` section of an experiment and technology files (configs/tech/*.yaml):
// timing in clocks and the action-energy table, validated with the same strict errors
// as the rest of the configuration.
#pragma once

#include <string>
#include <vector>

#include "models/tech.hpp"
#include "workloads/yaml_reader.hpp"

namespace imcsim {

struct TechSpec {
  std::string name;
  std::string file;  // where it was read from
  TimingParams timing;
  EnergyTable energy;     // adc_conversion filled from the FoM when adc_fom_fj > 0
  double adc_fom_fj = 0;  // Walden FoM: E_adc = FoM x 2^adc_bits (0: fixed adc_conversion)
  AreaTable area;
  // The energy table for an ADC of `adc_bits` (applies the FoM if given).
  EnergyTable table_for(int64_t adc_bits) const;
};

// YAML key of an event in `energy_pj:`.
const char* energy_key(Event e);

TechSpec parse_tech(const YamlNode& node);  // the mapping under `tech:`
TechSpec load_tech_file(const std::string& path);
// A built-in technology name (configs/tech/<name>.yaml) or a path.
std::string resolve_tech(const std::string& name_or_path, const std::string& relative_to_file);
std::vector<std::string> builtin_techs();

struct EngineSpec {
  std::string tech_name;  // as written
  TechSpec tech;
  bool functional = true;
  std::string input = "seeded";       // seeded uniform [0,1) image, or a TensorProto .pb path
  std::string weights = "synthetic";  // seeded synthetic, or a folder of .npy tensors
  std::string weight_map;             // name map for .npy weights ("" = built-in map)
  // Activation calibration (imcsim calibrate) of the network the engine runs, or "dynamic"
  // (each tensor's own range; workloads/reference.hpp).
  std::string calibration = "dynamic";
  bool trace = false;
  std::vector<std::string> trace_layers;       // empty = all
  double trace_from_ns = 0, trace_to_ns = -1;  // -1 = to the end
  int64_t schedule_cycles = 0;                 // > 0: write schedule.yaml listing this many cycles
};

EngineSpec parse_engine(const YamlNode& node, const std::string& experiment_file);
EngineSpec default_engine(const std::string& experiment_file);
// The `engine:` mapping of resolved.yaml.
void emit_engine_yaml(class YAML::Emitter& out, const EngineSpec& e);

}  // namespace imcsim
