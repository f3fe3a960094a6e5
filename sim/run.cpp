#include "sim/run.hpp"

#include <fmt/format.h>

#include "sim/version.hpp"
#include "workloads/loader.hpp"

namespace imcsim {

namespace {

// FNV-1a, 64 bit: a stable hash for run ids (same text -> same id on every machine).
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

std::string run_id(const ExperimentSpec& spec) {
  return fmt::format("{}-{:08x}", spec.name,
                     static_cast<uint32_t>(fnv1a(resolved_yaml(spec)) & 0xffffffffu));
}

RunResult evaluate_analytic(const ExperimentSpec& spec) {
  return evaluate_analytic(spec, load_workload_file(spec.workload_file));
}

RunResult evaluate_analytic(const ExperimentSpec& spec, const Network& net) {
  const ArrayGeometry geom = spec.arch.geometry();
  RunResult r;
  r.run_id = run_id(spec);
  for (const auto& name : spec.mappers)
    r.mappings.push_back(map_network(net, find_mapper(name), geom, spec.convention));

  Json s;
  s["imcsim_version"] = kVersion;
  s["experiment"] = spec.name;
  s["run_id"] = r.run_id;
  s["mode"] = "analytic";
  s["convention"] = to_string(spec.convention);
  s["workload"] = {{"name", net.name},
                   {"layers", net.layers.size()},
                   {"array_layers", r.mappings.empty() ? 0 : r.mappings.front().layers.size()},
                   {"parameters", net.parameter_count()},
                   {"macs", net.total_macs()}};
  s["geometry"] = {{"rows", geom.rows},
                   {"cols", geom.cols},
                   {"cols_per_weight", geom.cols_per_weight},
                   {"weight_cols", geom.weight_cols()},
                   {"lossless_adc_bits", spec.arch.lossless_adc_bits()}};
  Json totals;
  const int64_t base = r.mappings.empty() ? 0 : r.mappings.front().total_cycles();
  for (const auto& nm : r.mappings) {
    int64_t over_arrays = 0;  // layers that need more arrays than the chip has
    for (const auto& l : nm.layers) over_arrays += l.arrays() > spec.arch.arrays ? 1 : 0;
    totals[nm.mapper] = {
        {"cycles", nm.total_cycles()},
        {"max_arrays", nm.max_arrays()},
        {"layers_exceeding_arrays", over_arrays},
        {"speedup_vs_" + r.mappings.front().mapper,
         static_cast<double>(base) / static_cast<double>(nm.total_cycles())}};
  }
  s["totals"] = std::move(totals);
  if (spec.compression) add_compression(spec, net, r.mappings, s);  // sim/config_compression.hpp
  s["mappings"] = mappings_json(r.mappings);
  r.summary = std::move(s);
  return r;
}

RunResult run_analytic(const ExperimentSpec& spec, const std::string& output_root) {
  RunResult r = evaluate_analytic(spec);
  r.dir = write_run_dir(output_root, r.run_id,
                        {{"resolved.yaml", resolved_yaml(spec)},
                         {"summary.json", r.summary.dump(2) + "\n"},
                         {"layers.csv", mappings_csv(r.mappings)}});
  return r;
}

}  // namespace imcsim
