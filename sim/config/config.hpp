// Experiment and architecture configuration (STYLE.md "Two-layer configuration"):
// YAML is read by the strict YamlNode layer, validated here against one table of
// parameters (ranges, defaults and their sources), and turned into complete,
// typed specs. resolved_yaml() writes the spec back with every default filled in.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mappers/layer_mapping.hpp"
#include "sim/config/config_compression.hpp"
#include "sim/config/config_engine.hpp"
#include "sim/config/config_limits.hpp"
#include "workloads/yaml_reader.hpp"

namespace imcsim {

struct ArchSpec {
  std::string name;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t cell_bits = 0;
  int64_t weight_bits = 0;
  int64_t input_bits = 0;
  int64_t dac_bits = 0;
  int64_t adc_bits = 0;
  int64_t adc_share = 0;
  int64_t arrays = 0;
  std::string signed_encoding;

  // Columns per weight from bit slicing and signed encoding (REFERENCE §9).
  ArrayGeometry geometry() const;
  int64_t input_phases() const { return (input_bits + dac_bits - 1) / dac_bits; }
  // REFERENCE §10: ADC bits for which a column sum converts exactly.
  int64_t lossless_adc_bits() const;
};

// One architecture parameter: its key under `arch:`, range, default and where the
// default comes from. A view of the arch table of sim/config/param.hpp (arch_param_table()
// in config.cpp, the single place the defaults live; `imcsim list arch` prints it).
struct ArchParam {
  std::string key;
  int64_t lo = 0, hi = 0;            // integer range (choice parameters: unused)
  std::vector<std::string> choices;  // non-empty for choice parameters
  std::string default_value;         // empty = required
  std::string unit;
  std::string description;
  std::string source;
  int64_t ArchSpec::*field = nullptr;  // integer parameters
};
const std::vector<ArchParam>& arch_params();

// Validates an `arch:` mapping (from an experiment or an architecture file).
ArchSpec parse_arch(const YamlNode& node);
ArchSpec load_arch_file(const std::string& path);

enum class RunMode { Analytic, Cycle };

struct ExperimentSpec {
  std::string file;  // where it was read from
  std::string name;
  std::string description;
  std::string workload;       // as written (built-in name or path)
  std::string workload_file;  // resolved file
  ArchSpec arch;
  std::vector<std::string> mappers;
  Convention convention = Convention::Framework;
  RunMode mode = RunMode::Analytic;
  EngineSpec engine;  // mode: cycle (the `engine:` section, defaults from config_engine)
  std::string output_dir;
  int64_t seed = 1;
  std::optional<CompressionConfig>
      compression;            // `compression:` (sim/config/config_compression.hpp)
  RunLimits limits;           // `limits:` (sim/config/config_limits.hpp); the flags override it
  bool limits_given = false;  // the section is present (resolved.yaml then carries it)
};

ExperimentSpec parse_experiment(const YamlNode& root);
ExperimentSpec load_experiment_file(const std::string& path);

// The whole configuration after defaults, as YAML: rerunning it reproduces the run.
std::string resolved_yaml(const ExperimentSpec& spec);

}  // namespace imcsim
