#include "sim/run/run.hpp"

#include <fmt/format.h>

#include "sim/report/compress_report.hpp"
#include "sim/report/version.hpp"
#include "workloads/hash.hpp"
#include "workloads/loader.hpp"
#include "workloads/npy_weights.hpp"

namespace imcsim {

namespace {

// Compresses the run's network: summary["compression"] and one more block of layers.csv.
void add_compression(const ExperimentSpec& spec, const Network& net,
                     std::vector<NetworkMapping>& mappings, Json& summary) {
  const CompressionConfig& cfg = *spec.compression;
  const WeightSet weights = cfg.weights.empty()
                                ? synthetic_weights(net, static_cast<uint64_t>(spec.seed))
                                : load_npy_weights(net, cfg.weights);
  const compress::CompressionResult r =
      compress::compress_network(net, weights, cfg.spec, spec.arch.geometry(), spec.convention);
  summary["compression"] = compression_json(r);
  mappings.push_back(compression_mapping(r));
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
    totals[nm.mapper] = {{"cycles", nm.total_cycles()},
                         {"max_arrays", nm.max_arrays()},
                         {"layers_exceeding_arrays", over_arrays},
                         {"speedup_vs_" + r.mappings.front().mapper,
                          static_cast<double>(base) / static_cast<double>(nm.total_cycles())}};
  }
  s["totals"] = std::move(totals);
  if (spec.compression) add_compression(spec, net, r.mappings, s);
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
