#include "sim/run/cycle_summary.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "mappers/compress/expand.hpp"
#include "sim/run/energy.hpp"

namespace imcsim {

namespace {

int64_t analytic_cycles(const LayerRecord& r) {
  return r.analytic_cycles >= 0 ? r.analytic_cycles : r.sched->mapping.cycles;
}

int64_t total_clocks(const LayerRecord& r) {
  return r.run.clock_cycles + r.requant.clock_cycles;
}

EventCounts total_events(const LayerRecord& r) {
  EventCounts e = r.run.events;
  for (size_t i = 0; i < e.size(); ++i) e[i] += r.requant.events[i];
  return e;
}

// Sums over the layers of a run, for its totals.
struct Totals {
  int64_t computing_cycles = 0, clocks = 0;
  int64_t mapped = 0, rows = 0, cols = 0, cells_avail = 0, rows_avail = 0, cols_avail = 0;
  EventCounts events{};
  Json stalls = Json::object();
  bool all_exact = true;
  int64_t worst = 0;
};

double ratio(int64_t used, int64_t avail) {
  return avail ? static_cast<double>(used) / static_cast<double>(avail) : 0.0;
}

const char* const kLayersCsvHeader =
    "layer,type,mapper,method,computing_cycles,analytic_cycles,clock_cycles,"
    "analytic_clock_cycles,latency_ns,energy_pj,dac_pj,array_pj,adc_pj,shift_add_pj,"
    "accumulator_pj,buffer_pj,router_pj,programming_pj,digital_pj,leakage_pj,"
    "util_cells,util_rows,util_cols,stall_clocks,exact,max_abs_error\n";

// The array part of a conv/fc layer's row (mapping, cycles, utilization, numerical check),
// added to its totals; returns the layer's utilization of cells, rows and columns.
std::array<double, 3> array_layer_json(const LayerRecord& rec, const ArchSpec& arch, Json& j,
                                       Totals& tot) {
  const LayerMapping& m = rec.sched->mapping;
  const int64_t tiles = rec.run.tiles;
  const double uc = static_cast<double>(rec.run.mapped_cells) /
                    static_cast<double>(tiles * arch.rows * arch.cols);
  const double ur = static_cast<double>(rec.run.used_rows) / static_cast<double>(tiles * arch.rows);
  const double ucol =
      static_cast<double>(rec.run.used_cols) / static_cast<double>(tiles * arch.cols);
  tot.mapped += rec.run.mapped_cells;
  tot.rows += rec.run.used_rows;
  tot.cols += rec.run.used_cols;
  tot.cells_avail += tiles * arch.rows * arch.cols;
  tot.rows_avail += tiles * arch.rows;
  tot.cols_avail += tiles * arch.cols;
  j["mapper"] = m.mapper;
  j["method"] = m.method;
  j["computing_cycles"] = rec.run.computing_cycles;
  j["analytic_cycles"] = analytic_cycles(rec);
  j["analytic_clock_cycles"] = rec.analytic_clocks + rec.requant.clock_cycles;
  j["rounds"] = rec.run.rounds;
  j["programming_clocks"] = rec.run.programming_clocks;
  j["utilization"] = {{"cells", uc}, {"rows", ur}, {"cols", ucol}};
  j["numerical"] = {{"exact", rec.exact},
                    {"max_abs_error", rec.max_abs_error},
                    {"mean_abs_error", rec.mean_abs_error},
                    {"relative_error", rec.rel_error}};
  tot.all_exact = tot.all_exact && rec.exact;
  tot.worst = std::max(tot.worst, rec.max_abs_error);
  tot.computing_cycles += rec.run.computing_cycles;
  return {uc, ur, ucol};
}

// One layer: its summary.json row (returned) and its layers.csv line (appended to csv).
Json layer_row(const LayerRecord& rec, const ArchSpec& arch, const EnergyTable& table,
               double clock_ns, Totals& tot, std::string& csv) {
  const Layer& l = *rec.layer;
  const int64_t clocks = total_clocks(rec);
  const double latency = static_cast<double>(clocks) * clock_ns;
  const EventCounts ev = total_events(rec);
  const Json energy = energy_json(ev, table, arch.arrays, latency);
  Json j;
  j["name"] = l.name;
  j["type"] = to_string(l.type);
  j["clock_cycles"] = clocks;
  j["latency_ns"] = latency;
  j["energy_pj"] = energy;
  j["events"] = events_json(ev);
  int64_t stall_sum = 0;
  Json stalls = Json::object();
  for (const auto& [cause, clk] : rec.run.stalls) {
    stalls[cause] = clk;
    stall_sum += clk;
    tot.stalls[cause] = tot.stalls.value(cause, int64_t{0}) + clk;
  }
  j["stalls"] = stalls;
  std::array<double, 3> util{0, 0, 0};
  if (l.on_arrays()) util = array_layer_json(rec, arch, j, tot);
  tot.clocks += clocks;
  for (size_t i = 0; i < ev.size(); ++i) tot.events[i] += ev[i];
  const auto pj = [&energy](const char* component) {
    return fixed(energy[component].get<double>(), 3);
  };
  csv += fmt::format(
      "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", l.name,
      to_string(l.type), l.on_arrays() ? rec.sched->mapping.mapper : "",
      l.on_arrays() ? rec.sched->mapping.method : "", rec.run.computing_cycles,
      l.on_arrays() ? analytic_cycles(rec) : 0, clocks,
      l.on_arrays() ? rec.analytic_clocks + rec.requant.clock_cycles : clocks, fixed(latency, 3),
      pj("total"), pj("dac"), pj("array"), pj("adc"), pj("shift_add"), pj("accumulator"),
      pj("buffer"), pj("router"), pj("programming"), pj("digital"), pj("leakage"),
      fixed(util[0], 6), fixed(util[1], 6), fixed(util[2], 6), stall_sum,
      l.on_arrays() ? (rec.exact ? "true" : "false") : "", rec.max_abs_error);
  return j;
}

}  // namespace

LayerTable layer_table(const std::vector<LayerRecord>& records, const ArchSpec& arch,
                       const EnergyTable& table, double clock_ns) {
  LayerTable t;
  t.csv = kLayersCsvHeader;
  Totals tot;
  for (const auto& rec : records)
    t.layers.push_back(layer_row(rec, arch, table, clock_ns, tot, t.csv));
  t.latency_ns = static_cast<double>(tot.clocks) * clock_ns;
  t.computing_cycles = tot.computing_cycles;
  t.clock_cycles = tot.clocks;
  t.all_exact = tot.all_exact;
  t.max_abs_error = tot.worst;
  t.totals = {{"computing_cycles", tot.computing_cycles},
              {"clock_cycles", tot.clocks},
              {"latency_ns", t.latency_ns},
              {"energy_pj", energy_json(tot.events, table, arch.arrays, t.latency_ns)},
              {"utilization",
               {{"cells", ratio(tot.mapped, tot.cells_avail)},
                {"rows", ratio(tot.rows, tot.rows_avail)},
                {"cols", ratio(tot.cols, tot.cols_avail)}}},
              {"stalls", tot.stalls},
              {"events", events_json(tot.events)}};
  return t;
}

Json arch_json(const ArchSpec& arch, const EngineConfig& cfg) {
  return {{"rows", arch.rows},
          {"cols", arch.cols},
          {"cell_bits", arch.cell_bits},
          {"weight_bits", arch.weight_bits},
          {"input_bits", arch.input_bits},
          {"dac_bits", arch.dac_bits},
          {"adc_bits", arch.adc_bits},
          {"adc_share", arch.adc_share},
          {"arrays", arch.arrays},
          {"signed_encoding", arch.signed_encoding},
          {"lossless_adc_bits", cfg.datapath.lossless_adc_bits()},
          {"clock_ns", cfg.timing.clock_ns}};
}

Json area_json(const ArchSpec& arch, const AreaTable& a, int64_t adcs_per_array) {
  // Chip area: every array with its periphery (REFERENCE §11's companion, from the tech file).
  const double n = static_cast<double>(arch.arrays);
  const double cells = n * static_cast<double>(arch.rows * arch.cols) * a.cell_um2 * 1e-6;
  const double dacs = n * static_cast<double>(arch.rows) * a.dac_um2 * 1e-6;
  const double adcs = n * static_cast<double>(adcs_per_array) * a.adc_um2 * 1e-6;
  const double sa = n * a.shift_add_um2 * 1e-6;
  const double peri = n * a.periphery_um2_per_array * 1e-6;
  return {{"cells", cells},  {"dac", dacs},       {"adc", adcs},
          {"shift_add", sa}, {"periphery", peri}, {"total", cells + dacs + adcs + sa + peri}};
}

Json numerical_json(const LayerTable& t, const RunOutputs& out) {
  // End to end: the simulated network's output against the plain integer and float runs.
  const ref::FloatTensor& out_sim = out.simulated->output();
  auto max_diff = [](const ref::FloatTensor& a, const ref::FloatTensor& b) {
    double m = 0;
    for (size_t i = 0; i < a.data.size(); ++i) m = std::max(m, std::abs(a.data[i] - b.data[i]));
    return m;
  };
  auto argmax = [](const ref::FloatTensor& v) {
    return static_cast<int64_t>(std::max_element(v.data.begin(), v.data.end()) - v.data.begin());
  };
  Json j = {{"exact", t.all_exact},
            {"max_abs_error", t.max_abs_error},
            {"output_max_abs_diff_vs_int_reference", max_diff(out_sim, *out.int_reference)},
            {"output_max_abs_diff_vs_float", max_diff(out_sim, *out.float_reference)},
            {"top1_simulated", argmax(out_sim)},
            {"top1_int_reference", argmax(*out.int_reference)},
            {"top1_float", argmax(*out.float_reference)},
            {"activation_values_clamped", out.simulated->clamped}};
  if (out.uncompressed) {
    j["output_max_abs_diff_vs_uncompressed_float"] = max_diff(out_sim, *out.uncompressed);
    j["top1_uncompressed_float"] = argmax(*out.uncompressed);
  }
  return j;
}

Json compression_summary(const compress::Method method, Json layers,
                         const std::vector<std::string>& notes,
                         const std::vector<LayerRecord>& records) {
  bool plan_executed = true;
  for (auto& e : layers) {
    const std::string name = e["layer"].get<std::string>();
    int64_t engine_cc = 0;
    for (const auto& rec : records)
      if (rec.layer->name == name || rec.layer->name == compress::r_factor_name(name))
        engine_cc += rec.run.computing_cycles;
    e["engine_cycles"] = engine_cc;
    if (e["method"] != "dense")
      plan_executed = plan_executed && engine_cc == e["analytic_cycles"].get<int64_t>();
  }
  return {{"method", compress::to_string(method)},
          {"executed", method == compress::Method::Prune
                           ? "pruned weights, rows meeting only zeros skipped"
                           : "R and L layers on the plan's schedules (R's window and "
                             "group packing; L as I_N (x) L blocks or its im2col tiles)"},
          {"plan_executed", plan_executed},
          {"notes", notes},
          {"layers", std::move(layers)}};
}

ref::FloatTensor lossless_reference_output(
    const std::vector<LayerRecord>& records, bool functional, const ref::FloatTensor& simulated,
    const std::function<ref::FloatTensor()>& reference_pass) {
  const bool all_exact =
      std::all_of(records.begin(), records.end(), [](const LayerRecord& r) { return r.exact; });
  return all_exact || !functional ? simulated : reference_pass();
}

}  // namespace imcsim
