// The run limits of an experiment: the optional `limits:` section of an experiment (or
// sweep) YAML, overridden by the command-line flags of the same names. A cycle run, or a
// sweep, estimated above a limit is refused before anything is written (sim/run/estimate.hpp).
//
//   limits:
//     max_memory: 8G        # peak memory of a cycle run (bytes, or K/M/G/T/P, binary units)
//     max_events: 5e10      # simulation events of a cycle run
//     max_disk: 16G         # a run folder; for a sweep, the sweep folder
//     max_points: 1000000   # points of a sweep (or of its shard)
//
// The defaults are written once, in RunLimits below; their reasoning is the source column of
// the limits table (limits_param_table() in config_limits.cpp, `imcsim list limits`).
#pragma once

#include <cstdint>
#include <string>

#include "workloads/yaml_reader.hpp"

namespace YAML {
class Emitter;
}

namespace imcsim {

struct RunLimits {
  int64_t max_memory = int64_t{8} << 30;  // 8 GiB peak memory of a cycle run
  int64_t max_events = 50'000'000'000;    // 5e10 simulation events of a cycle run
  int64_t max_disk = int64_t{16} << 30;   // 16 GiB of a run or sweep folder
  int64_t max_points = 1'000'000;         // points of a sweep
};

// The `limits:` section of an experiment root (defaults when absent). ConfigError naming the
// file, line and key (limits.max_memory, ...) on an unknown key or a bad value. `given`
// is set when the section is present.
RunLimits parse_limits(const YamlNode& root, bool* given = nullptr);
// The `limits:` mapping of resolved.yaml (sizes in bytes).
void emit_limits(YAML::Emitter& out, const RunLimits& limits);

// "8G", "512M", "1.5T", "4096" (bytes) -> bytes; false when `text` is not such a size or is
// outside 1 byte .. 9e18 bytes.
bool parse_size(const std::string& text, int64_t& bytes);
std::string size_text(int64_t bytes);

}  // namespace imcsim
