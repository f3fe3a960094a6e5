#include "sim/run/estimate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <initializer_list>

#include "mappers/layer_mapping.hpp"
#include "mappers/mapper.hpp"
#include "workloads/yaml_reader.hpp"

namespace imcsim {

namespace {

// Measured on the engine (README "Limits"): one array module with its four SystemC threads
// (their stacks), signals and FIFOs; the process itself (SystemC kernel, libraries, report);
// process activations per computing cycle are 4 per input phase plus 8 (fetch, route,
// post, buffer); the rate is the engine's on ResNet-20.
constexpr int64_t kBytesPerArray = 32 << 10;
constexpr int64_t kBaseBytes = 48 << 20;
constexpr int64_t kEventsPerPhase = 4, kEventsPerCycle = 8;
constexpr double kEventsPerSecond = 1.0e7;
// Output: summary and layers.csv per layer, schedule.yaml per listed cycle, and VCD value
// changes per traced computing cycle (each about 12 bytes).
constexpr int64_t kSummaryBytesPerLayer = 4096, kSummaryBase = 64 << 10;
constexpr int64_t kScheduleBytesPerCycle = 256;
constexpr int64_t kVcdChangesPerPhase = 3, kVcdChangesPerCycle = 8, kVcdBytesPerChange = 12;

class Checked {
 public:
  Checked(const ExperimentSpec& spec, const std::string& layer) : spec_(spec), layer_(layer) {}
  int64_t mul(std::initializer_list<int64_t> factors) const {
    int64_t n = 1;
    for (int64_t f : factors)
      if (f < 0 || __builtin_mul_overflow(n, f, &n)) overflow();
    return n;
  }
  void add(int64_t& to, int64_t v) const {
    if (v < 0 || __builtin_add_overflow(to, v, &to)) overflow();
  }

 private:
  [[noreturn]] void overflow() const {
    throw ConfigError(spec_.file, 0, layer_.empty() ? "arch" : "workload",
                      fmt::format("{}the size of this run does not fit a 64-bit count: the "
                                  "workload or the architecture is too large to simulate",
                                  layer_.empty() ? "" : "layer " + layer_ + ": "));
  }
  const ExperimentSpec& spec_;
  std::string layer_;
};

void check_trace_layers(const ExperimentSpec& spec, const Network& net) {
  for (const auto& name : spec.engine.trace_layers) {
    const Layer* l = net.find(name);
    if (!l || !l->on_arrays()) {
      std::vector<std::string> names;
      for (const auto& x : net.layers)
        if (x.on_arrays()) names.push_back(x.name);
      if (names.size() > 12) names.resize(12), names.push_back("...");
      throw ConfigError(spec.file, 0, "engine.trace.layers",
                        fmt::format("\"{}\" is not a conv or fc layer of workload {} (its trace "
                                    "would be empty; layers: {})",
                                    name.substr(0, 120), net.name, join_choices(names)));
    }
  }
}

}  // namespace

RunEstimate estimate_cycle_run(const ExperimentSpec& spec, const Network& net, bool trace) {
  check_trace_layers(spec, net);
  const ArrayGeometry geom = spec.arch.geometry();
  const MapperInfo& mapper = find_mapper(spec.mappers.front());
  const bool tracing = trace || spec.engine.trace;
  const int64_t phases = spec.arch.input_phases();
  RunEstimate e;
  const Checked top(spec, "");
  int64_t memory = kBaseBytes, largest_layer = 0, vcd_changes = 0;
  top.add(memory, top.mul({spec.arch.arrays, kBytesPerArray}));
  for (const auto& l : net.layers) {
    const Checked c(spec, l.name);
    // Activations of the reference executor (double) and the engine's codes (int64).
    largest_layer = std::max(largest_layer, c.mul({l.in.elements() + l.out.elements(), 16}));
    if (!l.on_arrays()) continue;
    const LayerMapping m = map_layer(mapper, conv_shape(l, spec.convention), geom);
    ++e.layers;
    c.add(e.computing_cycles, m.cycles);
    const int64_t per_cycle = c.mul({kEventsPerPhase, phases}) + kEventsPerCycle;
    c.add(e.events, c.mul({m.cycles, per_cycle}));
    // Weights (float and programmed cells) and the schedule's row/column slots.
    c.add(memory, c.mul({l.weight_count(), 24}));
    c.add(memory, c.mul({m.arrays(), geom.rows + geom.cols, 48}));
    const bool traced = spec.engine.trace_layers.empty() ||
                        std::find(spec.engine.trace_layers.begin(), spec.engine.trace_layers.end(),
                                  l.name) != spec.engine.trace_layers.end();
    if (tracing && traced)
      c.add(vcd_changes,
            c.mul({m.cycles, c.mul({kVcdChangesPerPhase, phases}) + kVcdChangesPerCycle}));
  }
  top.add(memory, largest_layer);
  e.memory_bytes = memory;
  int64_t disk = kSummaryBase;
  top.add(disk, top.mul({static_cast<int64_t>(net.layers.size()), kSummaryBytesPerLayer}));
  top.add(disk, top.mul({spec.engine.schedule_cycles, kScheduleBytesPerCycle}));
  top.add(disk, top.mul({vcd_changes, kVcdBytesPerChange}));
  e.disk_bytes = disk;
  e.seconds = static_cast<double>(e.events) / kEventsPerSecond;
  return e;
}

void check_estimate(const RunEstimate& e, const RunLimits& limits, const std::string& file) {
  auto refuse = [&](const char* what, const std::string& value, const std::string& limit,
                    const char* flag, const char* key) {
    throw ConfigError(file, 0, "",
                      fmt::format("this cycle run needs {} {}, above the limit of {} ({}); "
                                  "raise it with {} (or limits.{}) if that is intended, or use "
                                  "mode: analytic",
                                  what, value, limit, estimate_text(e), flag, key));
  };
  if (e.memory_bytes > limits.max_memory)
    refuse("about", size_text(e.memory_bytes) + " of memory", size_text(limits.max_memory),
           "--max-memory", "max_memory");
  if (e.events > limits.max_events)
    refuse("about", fmt::format("{:.3g} simulation events", static_cast<double>(e.events)),
           fmt::format("{:.3g}", static_cast<double>(limits.max_events)), "--max-events",
           "max_events");
  if (e.disk_bytes > limits.max_disk)
    refuse("about", size_text(e.disk_bytes) + " of output", size_text(limits.max_disk),
           "--max-disk", "max_disk");
}

std::string estimate_text(const RunEstimate& e) {
  const double s = e.seconds;
  const std::string time = s < 90     ? fmt::format("{:.0f} s", std::max(1.0, s))
                           : s < 5400 ? fmt::format("{:.0f} min", s / 60)
                                      : fmt::format("{:.1f} h", s / 3600);
  return fmt::format(
      "{} layers, {} computing cycles, {:.3g} events (about {}), memory {}, "
      "output {}",
      e.layers, e.computing_cycles, static_cast<double>(e.events), time, size_text(e.memory_bytes),
      size_text(e.disk_bytes));
}

}  // namespace imcsim
