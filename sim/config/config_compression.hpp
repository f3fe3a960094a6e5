// The `compression:` section of an experiment (REFERENCE §6-§8), validated as strictly as
// the rest of the file: unknown keys, bad values and unknown layer names are ConfigErrors
// naming file, line and key. Defaults live in compress::CompressionSpec.
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>

#include "mappers/compress/compress.hpp"
#include "workloads/yaml_reader.hpp"

namespace imcsim {

struct ExperimentSpec;

struct CompressionConfig {
  compress::CompressionSpec spec;
  std::string weights;  // .npy folder (absolute), empty = synthetic weights from the seed
};

// Reads `compression:` of an experiment root (nullopt when absent). `workload_file` is the
// resolved workload, for checking the layer names of overrides.
std::optional<CompressionConfig> parse_compression(const YamlNode& root,
                                                   const std::string& workload_file);
// Writes the section back with every default filled in (resolved.yaml).
void emit_compression(YAML::Emitter& out, const CompressionConfig& c);

}  // namespace imcsim
