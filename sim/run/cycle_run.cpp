#include "sim/run/cycle_run.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <future>
#include <iostream>
#include <set>

#include "mappers/compress/expand.hpp"
#include "mappers/mapper.hpp"
#include "mappers/schedule.hpp"
#include "sim/report/version.hpp"
#include "sim/run/background.hpp"
#include "workloads/calibration.hpp"
#include "workloads/loader.hpp"
#include "workloads/npy_weights.hpp"
#include "workloads/onnx/tensor_proto.hpp"
#include "workloads/reference.hpp"

namespace imcsim {

namespace {

const char* const kComponents[] = {"dac",    "array",  "adc",         "shift_add", "accumulator",
                                   "buffer", "router", "programming", "digital",   "leakage"};

ref::FloatTensor load_input(const ExperimentSpec& spec, const Network& net) {
  ref::FloatTensor x(net.input.c, net.input.h, net.input.w);
  if (spec.engine.input == "seeded") {
    // Uniform [0, 1): no dataset images are available; same seed, same image.
    SeededStream rng = SeededStream::for_name(static_cast<uint64_t>(spec.seed), "input");
    for (auto& v : x.data) v = rng.uniform();
    return x;
  }
  const onnx_io::ProtoTensor t = onnx_io::read_tensor_proto(spec.engine.input);
  if (t.size() != x.size()) {
    throw WorkloadError(spec.engine.input, 0, "engine.input",
                        fmt::format("tensor has {} values, the network input {}x{}x{} needs {}",
                                    t.size(), net.input.c, net.input.h, net.input.w, x.size()));
  }
  for (size_t i = 0; i < x.data.size(); ++i) x.data[i] = t.values[i];
  return x;
}

WeightSet load_weights(const ExperimentSpec& spec, const Network& net) {
  // engine.weights, else the compression section's weights, else seeded synthetic ones.
  std::string dir = spec.engine.weights == "synthetic" ? "" : spec.engine.weights;
  if (dir.empty() && spec.compression) dir = spec.compression->weights;
  if (dir.empty()) return synthetic_weights(net, static_cast<uint64_t>(spec.seed));
  WeightSet w = load_npy_weights(net, dir, spec.engine.weight_map);
  check_weights(net, w);
  return w;
}

struct LayerRecord {
  const Layer* layer = nullptr;
  LayerRun run;      // arrays (conv/fc) or digital units
  LayerRun requant;  // conv/fc: requantization of the outputs on digital units
  const TileSchedule* sched = nullptr;
  int64_t analytic_clocks = 0;
  int64_t analytic_cycles =
      -1;  // a fused R/L pair's plan (R: the pair's, L: 0); else the schedule's
  bool exact = true;
  bool requant_mismatch = false;  // L of a fused job: engine's requantized R != the reference's
  int64_t max_abs_error = 0;
  double mean_abs_error = 0, rel_error = 0;
};

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

Json events_json(const EventCounts& e) {
  Json j;
  for (int i = 0; i < kEventCount; ++i)
    j[to_string(static_cast<Event>(i))] = e[static_cast<size_t>(i)];
  return j;
}

EventCounts events_from_json(const Json& j) {
  EventCounts e{};
  for (int i = 0; i < kEventCount; ++i)
    e[static_cast<size_t>(i)] = j.at(to_string(static_cast<Event>(i))).get<int64_t>();
  return e;
}

}  // namespace

Json energy_json(const EventCounts& events, const EnergyTable& table, int64_t arrays,
                 double latency_ns) {
  Json j;
  for (const char* c : kComponents) j[c] = 0.0;
  double total = 0;
  for (int i = 0; i < kEventCount; ++i) {
    const Event e = static_cast<Event>(i);
    const double pj =
        static_cast<double>(events[static_cast<size_t>(i)]) * table.pj[static_cast<size_t>(i)];
    j[component_of(e)] = j[component_of(e)].get<double>() + pj;
    total += pj;
  }
  // mW x ns = pJ.
  const double leak = table.leakage_mw_per_array * static_cast<double>(arrays) * latency_ns;
  j["leakage"] = leak;
  j["total"] = total + leak;
  return j;
}

namespace {

// The low-rank plan of an executed layer: "<layer>.R" (R) and "<layer>" (L) both map to the
// plan of <layer>; nullptr for any other layer.
const compress::LowRankMapping* plan_of(
    const std::map<std::string, const compress::LowRankMapping*>& plans, const std::string& name) {
  auto it = plans.find(name);
  if (it == plans.end()) it = plans.find(compress::layer_of_r_factor(name));
  return it == plans.end() ? nullptr : it->second;
}

}  // namespace

EngineConfig engine_config(const ArchSpec& arch, const EngineSpec& engine) {
  EngineConfig cfg;
  cfg.datapath.rows = arch.rows;
  cfg.datapath.cell_bits = arch.cell_bits;
  cfg.datapath.weight_bits = arch.weight_bits;
  cfg.datapath.input_bits = arch.input_bits;
  cfg.datapath.dac_bits = arch.dac_bits;
  cfg.datapath.adc_bits = arch.adc_bits;
  cfg.datapath.differential = arch.signed_encoding == "differential";
  cfg.timing = engine.tech.timing;
  cfg.cols = arch.cols;
  cfg.adc_share = arch.adc_share;
  cfg.num_arrays = arch.arrays;
  cfg.functional = engine.functional;
  return cfg;
}

int default_run_threads() {
  return usable_cores() >= 2 ? 2 : 1;
}

RunResult run_cycle(const ExperimentSpec& spec, const std::string& output_root,
                    const CycleOptions& options) {
  const auto wall0 = std::chrono::steady_clock::now();
  const Network original = load_workload_file(spec.workload_file);
  const WeightSet original_weights = load_weights(spec, original);
  const ref::FloatTensor input = load_input(spec, original);
  const ArchSpec& arch = spec.arch;
  if (arch.weight_bits < 2) {
    throw ConfigError(spec.file, 0, "arch.weight_bits",
                      "mode cycle computes real values and needs signed weights of at least 2 "
                      "bits (one weight per column is an analytic-only convention)");
  }
  const ArrayGeometry geom = arch.geometry();
  const MapperInfo& mapper = find_mapper(spec.mappers.front());

  // Compression: low-rank layers execute as their R and L convolutions on the schedules of
  // the plan (R's window and group packing, L as I_N (x) L blocks or its im2col tiles;
  // mappers/compress/lowrank_mapping.hpp), so engine and plan count the same activations.
  Network net = original;
  // The compressed network's weights; without compression the run reads the loaded ones (no
  // copy: VGG-13's are 0.5 GB).
  WeightSet compressed_weights;
  Json compression = Json::array();
  std::vector<std::string> compression_notes;
  std::map<std::string, LayerMapping> rowskip;  // pruned layers: their row-skipping mapping
  std::set<std::string> fused;  // low-rank layers with L in R's idle cells: one engine job
  std::map<std::string, const compress::LowRankMapping*> lowrank;  // original layer -> plan
  compress::CompressionResult plan;
  if (spec.compression) {
    compress::CompressionSpec cs = spec.compression->spec;
    cs.chip_arrays = arch.arrays;  // L in R's idle cells only where R and L fit the chip at once
    plan = compress::compress_network(original, original_weights, cs, geom, spec.convention);
    if (cs.method == compress::Method::Prune) {
      // Pruned weights in the original layers; their schedules skip the rows that meet only
      // zeros (make_row_skip_schedule), as the analytic plan costs them.
      compressed_weights = original_weights;
      for (const auto& cl : plan.layers) {
        if (!cl.pruned_weight) continue;
        compressed_weights.layers.at(cl.layer).weight = *cl.pruned_weight;
        rowskip[cl.layer] = cl.mapping;
      }
    } else {
      compress::ExpandedNetwork ex =
          compress::expand_lowrank(original, original_weights, plan, true);
      for (const auto& cl : plan.layers) {
        if (!cl.lowrank) continue;
        lowrank[cl.layer] = &*cl.lowrank;
      }
      net = std::move(ex.net);
      compressed_weights = std::move(ex.weights);
      compression_notes = std::move(ex.notes);
    }
    for (const auto& cl : plan.layers) {
      compression.push_back({{"layer", cl.layer},
                             {"method", cl.method},
                             {"ranks", cl.ranks},
                             {"rel_error", cl.rel_error},
                             {"params", cl.params},
                             {"params_dense", cl.params_dense},
                             {"analytic_cycles", cl.mapping.cycles},
                             {"analytic_dense_cycles", cl.dense.cycles},
                             {"l_placement", cl.lowrank ? to_string(cl.lowrank->placement) : ""}});
    }
  }
  const WeightSet& weights = spec.compression ? compressed_weights : original_weights;

  // Mapping and schedules of every conv/fc layer.
  std::vector<LayerMapping> mappings;
  std::vector<TileSchedule> schedules;
  std::map<std::string, size_t> sched_of;
  int64_t total_tiles = 0;
  for (const auto& l : net.layers) {
    if (!l.on_arrays()) continue;
    auto rs = rowskip.find(l.name);
    if (rs != rowskip.end()) {
      const Tensor& w = weights.at(l.name).weight;
      const int64_t icg = w.shape[1], kh = w.shape[2], kw = w.shape[3];
      mappings.push_back(rs->second);
      schedules.push_back(make_row_skip_schedule(
          rs->second, geom, arch.arrays,
          [&w, icg, kh, kw](int64_t oc, int64_t c, int64_t y, int64_t x) {
            return w.data[static_cast<size_t>(((oc * icg + c) * kh + y) * kw + x)] != 0.0f;
          }));
    } else if (const compress::LowRankMapping* lr = plan_of(lowrank, l.name)) {
      // R runs as "<layer>.R" and L under the original name: both schedules come from the plan.
      const bool is_r = !compress::layer_of_r_factor(l.name).empty();
      const std::string base = is_r ? compress::layer_of_r_factor(l.name) : l.name;
      const Layer& r_layer = *net.find(compress::r_factor_name(base));
      const Layer& l_layer = *net.find(base);
      compress::LowRankSchedules ls =
          compress::lowrank_schedules(*lr, conv_shape(r_layer, spec.convention),
                                      conv_shape(l_layer, spec.convention), geom, arch.arrays);
      if (ls.fused) fused.insert(base);
      schedules.push_back(is_r ? std::move(ls.r) : std::move(ls.l));
      mappings.push_back(schedules.back().mapping);
    } else {
      mappings.push_back(map_layer(mapper, conv_shape(l, spec.convention), geom));
      schedules.push_back(make_schedule(mappings.back(), geom, arch.arrays));
    }
    sched_of[l.name] = schedules.size() - 1;
    total_tiles += static_cast<int64_t>(schedules.back().tiles.size());
  }
  // Weights stay resident when every layer's tiles fit on the chip at once; otherwise each
  // layer programs its arrays before it runs (REFERENCE §10 "weight (re)programming").
  const bool resident = total_tiles <= arch.arrays;

  // The calibration names tensors of the network that runs (expanded R/L layers included);
  // read before the run folder exists, so a bad file leaves nothing behind.
  std::map<std::string, ref::ActQuant> calibration;
  if (spec.engine.calibration != "dynamic")
    calibration = load_calibration(spec.engine.calibration, net, static_cast<int>(arch.input_bits))
                      .act_quant();

  const std::string id = run_id(spec);
  RunDir dir(output_root, id);

  EngineConfig cfg = engine_config(arch, spec.engine);
  const bool trace = spec.engine.trace || options.trace;
  if (trace) {
    cfg.trace.vcd_path = dir.path("trace.vcd");
    cfg.trace.layers = spec.engine.trace_layers;
    cfg.trace.from_ns = spec.engine.trace_from_ns;
    if (spec.engine.trace_to_ns >= 0) cfg.trace.to_ns = spec.engine.trace_to_ns;
  }
  Engine engine(cfg);

  std::vector<LayerRecord> records(net.layers.size());
  for (size_t i = 0; i < net.layers.size(); ++i) records[i].layer = &net.layers[i];
  size_t next_digital = 0;  // network layers before this index have been timed
  const size_t n_layers = net.layers.size();
  auto wall_prev = std::chrono::steady_clock::now();
  auto progress = [&](size_t index) {
    const auto now = std::chrono::steady_clock::now();
    const double wall_ms = std::chrono::duration<double, std::milli>(now - wall_prev).count();
    wall_prev = now;
    if (options.quiet) return;
    // Wall time goes to the terminal only: the run folder stays byte-identical across runs.
    std::cerr << fmt::format("imcsim: layer {}/{} {} done, simulated {:.3f} us (wall {:.1f} ms)\n",
                             index + 1, n_layers, net.layers[index].name,
                             static_cast<double>(engine.now_clocks()) * cfg.timing.clock_ns * 1e-3,
                             wall_ms);
  };
  auto time_digital_until = [&](size_t end) {
    for (; next_digital < end; ++next_digital) {
      const Layer& l = net.layers[next_digital];
      if (l.on_arrays()) continue;
      records[next_digital].run = engine.run_digital(l.name, l.out.elements());
      progress(next_digital);
    }
  };

  ref::IntOptions iopt;
  iopt.weight_bits = static_cast<int>(arch.weight_bits);
  iopt.input_bits = static_cast<int>(arch.input_bits);
  iopt.calibration = calibration;
  const auto qweights = ref::quantize_weights(net, weights, iopt.weight_bits);
  if (!fused.empty()) {
    // R's windows are requantized for L while R still runs, so L's input quantization must be
    // fixed before the layer: every tensor's quantization is pinned from a reference pass
    // over this input (what a calibration on it would give), for the engine and the
    // reference alike.
    const ref::IntRun pre = ref::run_int(net, qweights, input, iopt);
    iopt.calibration.emplace("input", pre.input.quant);
    for (size_t i = 0; i < net.layers.size(); ++i)
      if (pre.layers[i].quantized)
        iopt.calibration.emplace(net.layers[i].name, pre.layers[i].quant);
  }
  std::map<std::string, FusedRun> fused_runs;  // L's results of a fused job, by layer

  // The references do not depend on the engine: they run on a second thread while it
  // simulates (sim/run/background.hpp; the same values as computed after it).
  // Only their outputs are kept (each pass's per-layer tensors are freed as it ends).
  ref::FloatTensor out_int, out_float, out_uncompressed;
  BackgroundWorker background(options.threads > 1);
  background.post([&] { out_int = ref::run_int(net, qweights, input, iopt).output(); });
  background.post([&] { out_float = ref::run_float(net, weights, input).output(); });
  // The uncompressed network in float: what compression costs in output accuracy.
  if (spec.compression)
    background.post(
        [&] { out_uncompressed = ref::run_float(original, original_weights, input).output(); });

  // With a second thread, the next plain array layer's tiles are programmed while this one
  // simulates (the same cells as programmed at its turn; a low-rank pair's job programs its
  // own).
  struct ProgramAhead {
    std::string layer;
    std::future<std::vector<TileCells>> cells;
    std::vector<TileCells> take(const std::string& name) {
      if (!cells.valid() || layer != name) return {};
      return cells.get();
    }
  } ahead;
  auto program_after = [&](size_t index) {
    if (options.threads < 2) return;
    for (size_t j = index + 1; j < net.layers.size(); ++j) {
      const Layer& next = net.layers[j];
      if (!next.on_arrays()) continue;
      const std::string r_of = compress::layer_of_r_factor(next.name);
      if (fused.count(r_of.empty() ? next.name : r_of)) return;
      const TileSchedule& s = schedules[sched_of.at(next.name)];
      // Two layers' cells are held at once: not for a layer of very many tiles (VGG-13's
      // fc6 has about 25 k, some 200 MB of cells).
      constexpr size_t kMaxTilesAhead = 4096;
      if (s.tiles.size() > kMaxTilesAhead) return;
      const ref::QuantizedLayer& q = qweights.at(next.name);
      const EngineConfig& ecfg = engine.config();
      ahead.layer = next.name;
      ahead.cells = std::async(std::launch::async, [&s, &q, &ecfg] {
        return program_layer(s, std::vector<int32_t>(q.q.begin(), q.q.end()), q.odd_grid, ecfg);
      });
      return;
    }
  };

  ref::AccumulatorHook hook = [&](const Layer& layer, const ref::IntTensor& codes,
                                  const ref::QuantizedLayer& q,
                                  int64_t zero_point) -> ref::IntTensor {
    size_t index = 0;
    while (&net.layers[index] != &layer && net.layers[index].name != layer.name) ++index;
    time_digital_until(index);
    next_digital = index + 1;
    LayerRecord& rec = records[index];
    const TileSchedule& sched = schedules[sched_of.at(layer.name)];
    rec.sched = &sched;
    std::vector<int32_t> wq(q.q.begin(), q.q.end());
    std::vector<int64_t> acc;
    const std::string r_of = compress::layer_of_r_factor(layer.name);
    const std::string base = r_of.empty() ? layer.name : r_of;
    if (fused.count(base) && base != layer.name) {
      // R and L as one job: R's record carries the activations, L's the results.
      const ref::QuantizedLayer& lq = qweights.at(base);
      const std::vector<int32_t> lwq(lq.q.begin(), lq.q.end());
      const double in_scale =
          iopt.calibration.at(layer.inputs.empty() ? "input" : layer.inputs.front()).scale;
      const ref::ActQuant l_quant = iopt.calibration.at(layer.name);
      const int bits = iopt.input_bits;
      FusedLowRank job;
      job.r = &sched;
      job.l = &schedules[sched_of.at(base)];
      job.r_input = &codes.data;
      job.r_wq = &wq;
      job.l_wq = &lwq;
      job.r_offset = zero_point;
      job.l_offset = l_quant.zero_point;
      job.r_odd = q.odd_grid;
      job.l_odd = lq.odd_grid;
      job.requant = [&layer, &q, in_scale, l_quant, bits](const int64_t* a, int64_t* out) {
        ref::IntTensor t(layer.out.c, 1, 1);
        std::copy(a, a + layer.out.c, t.data.begin());
        const ref::IntTensor c = ref::quantize_centered(
            ref::dequantize_accumulators(t, layer, q, in_scale), l_quant, bits);
        std::copy(c.data.begin(), c.data.end(), out);
      };
      FusedRun fr = engine.run_fused_lowrank(job, !resident);
      rec.run = fr.run;
      rec.analytic_clocks = -1;  // no closed form for the pipelined pair
      rec.analytic_cycles = lowrank.at(base)->combined.cycles;  // the pair's plan, as its job
      acc = fr.r_out;
      fused_runs[base] = std::move(fr);
    } else if (auto fr = fused_runs.find(layer.name); fr != fused_runs.end()) {
      // L of a fused job: its accumulators came with R's job; the input codes the reference
      // computed must be the ones the engine requantized.
      rec.run.layer = layer.name;
      rec.analytic_clocks = -1;
      rec.analytic_cycles = 0;  // its cycles are the pair's, on R's record
      acc = fr->second.l_out;
      if (cfg.functional && fr->second.l_input != codes.data) rec.requant_mismatch = true;
    } else {
      std::vector<TileCells> cells = ahead.take(layer.name);
      program_after(index);
      rec.run = engine.run_array_layer(sched, codes.data, wq, acc, !resident, zero_point,
                                       q.odd_grid, cells.empty() ? nullptr : &cells);
      rec.analytic_clocks = analytic_layer_clocks(sched, cfg, !resident);
    }
    // (R of a fused job: its outputs were requantized window by window inside the job.)
    if (!(fused.count(base) && base != layer.name))
      rec.requant = engine.run_digital(layer.name + ".requant", layer.out.elements());
    progress(index);
    if (!cfg.functional) return ref::accumulate_int(layer, codes, q);  // the run goes on from it
    // The engine's accumulators go on through the network; their check against the
    // reference accumulators of the same input codes runs beside the engine.
    ref::IntTensor got(layer.out.c, layer.type == LayerType::Conv ? layer.out.h : 1,
                       layer.type == LayerType::Conv ? layer.out.w : 1);
    if (got.data.size() != acc.size())
      throw std::logic_error(fmt::format("engine: layer {} gave {} accumulators, expected {}",
                                         layer.name, acc.size(), got.data.size()));
    got.data = acc;
    background.post(
        [&rec, &layer, &q, codes, acc = std::move(acc)] {
          const ref::IntTensor want = ref::accumulate_int(layer, codes, q);
          double sum_abs = 0, sum_sq = 0, ref_sq = 0;
          for (size_t k = 0; k < want.data.size(); ++k) {
            const int64_t d = std::llabs(acc[k] - want.data[k]);
            rec.max_abs_error = std::max(rec.max_abs_error, d);
            sum_abs += static_cast<double>(d);
            sum_sq += static_cast<double>(d) * static_cast<double>(d);
            ref_sq += static_cast<double>(want.data[k]) * static_cast<double>(want.data[k]);
          }
          rec.exact =
              rec.max_abs_error == 0 && std::isfinite(rec.rel_error) && !rec.requant_mismatch;
          rec.mean_abs_error =
              want.data.empty() ? 0 : sum_abs / static_cast<double>(want.data.size());
          rec.rel_error = ref_sq > 0 ? std::sqrt(sum_sq / ref_sq) : 0;
        },
        true);
    return got;
  };

  const ref::IntRun simulated = ref::run_int(net, qweights, input, iopt, hook);
  time_digital_until(n_layers);
  engine.finish();
  background.join();

  // ---- summary -------------------------------------------------------------------------
  const EnergyTable table = spec.engine.tech.table_for(arch.adc_bits);
  const double clock_ns = cfg.timing.clock_ns;
  Json layers = Json::array();
  std::string csv =
      "layer,type,mapper,method,computing_cycles,analytic_cycles,clock_cycles,"
      "analytic_clock_cycles,latency_ns,energy_pj,dac_pj,array_pj,adc_pj,shift_add_pj,"
      "accumulator_pj,buffer_pj,router_pj,programming_pj,digital_pj,leakage_pj,"
      "util_cells,util_rows,util_cols,stall_clocks,exact,max_abs_error\n";
  int64_t tot_cc = 0, tot_clk = 0, tot_mapped = 0, tot_rows = 0, tot_cols = 0, tot_cells_avail = 0;
  int64_t tot_rows_avail = 0, tot_cols_avail = 0;
  EventCounts tot_events{};
  Json tot_stalls = Json::object();
  bool all_exact = true;
  int64_t worst = 0;
  for (const auto& rec : records) {
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
      tot_stalls[cause] = tot_stalls.value(cause, int64_t{0}) + clk;
    }
    j["stalls"] = stalls;
    double uc = 0, ur = 0, ucol = 0;
    if (l.on_arrays()) {
      const LayerMapping& m = rec.sched->mapping;
      const int64_t tiles = rec.run.tiles;
      uc = static_cast<double>(rec.run.mapped_cells) /
           static_cast<double>(tiles * arch.rows * arch.cols);
      ur = static_cast<double>(rec.run.used_rows) / static_cast<double>(tiles * arch.rows);
      ucol = static_cast<double>(rec.run.used_cols) / static_cast<double>(tiles * arch.cols);
      tot_mapped += rec.run.mapped_cells;
      tot_rows += rec.run.used_rows;
      tot_cols += rec.run.used_cols;
      tot_cells_avail += tiles * arch.rows * arch.cols;
      tot_rows_avail += tiles * arch.rows;
      tot_cols_avail += tiles * arch.cols;
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
      all_exact = all_exact && rec.exact;
      worst = std::max(worst, rec.max_abs_error);
      tot_cc += rec.run.computing_cycles;
    }
    tot_clk += clocks;
    for (size_t i = 0; i < ev.size(); ++i) tot_events[i] += ev[i];
    layers.push_back(j);
    csv += fmt::format(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", l.name,
        to_string(l.type), l.on_arrays() ? rec.sched->mapping.mapper : "",
        l.on_arrays() ? rec.sched->mapping.method : "", rec.run.computing_cycles,
        l.on_arrays() ? analytic_cycles(rec) : 0, clocks,
        l.on_arrays() ? rec.analytic_clocks + rec.requant.clock_cycles : clocks, fixed(latency, 3),
        fixed(energy["total"].get<double>(), 3), fixed(energy["dac"].get<double>(), 3),
        fixed(energy["array"].get<double>(), 3), fixed(energy["adc"].get<double>(), 3),
        fixed(energy["shift_add"].get<double>(), 3), fixed(energy["accumulator"].get<double>(), 3),
        fixed(energy["buffer"].get<double>(), 3), fixed(energy["router"].get<double>(), 3),
        fixed(energy["programming"].get<double>(), 3), fixed(energy["digital"].get<double>(), 3),
        fixed(energy["leakage"].get<double>(), 3), fixed(uc, 6), fixed(ur, 6), fixed(ucol, 6),
        stall_sum, l.on_arrays() ? (rec.exact ? "true" : "false") : "", rec.max_abs_error);
  }
  const double latency_ns = static_cast<double>(tot_clk) * clock_ns;

  // End to end: the simulated network's output against the plain integer and float runs.
  const ref::FloatTensor& out_sim = simulated.output();
  auto max_diff = [](const ref::FloatTensor& a, const ref::FloatTensor& b) {
    double m = 0;
    for (size_t i = 0; i < a.data.size(); ++i) m = std::max(m, std::abs(a.data[i] - b.data[i]));
    return m;
  };
  auto argmax = [](const ref::FloatTensor& t) {
    return static_cast<int64_t>(std::max_element(t.data.begin(), t.data.end()) - t.data.begin());
  };

  Json s;
  s["imcsim_version"] = kVersion;
  s["experiment"] = spec.name;
  s["run_id"] = id;
  s["mode"] = "cycle";
  s["workload"] = net.name;
  s["mapper"] = mapper.name;
  s["convention"] = to_string(spec.convention);
  s["tech"] = spec.engine.tech.name;
  s["weights"] = weights.source.rfind("synthetic", 0) == 0 ? weights.source : "npy";
  s["input"] = spec.engine.input == "seeded" ? fmt::format("seeded(seed={})", spec.seed) : "file";
  s["calibration"] = spec.engine.calibration == "dynamic" ? "dynamic" : "file";
  s["arch"] = {{"rows", arch.rows},
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
               {"clock_ns", clock_ns}};
  s["weights_resident"] = resident;
  {
    // Chip area: every array with its periphery (REFERENCE §11's companion, from the tech file).
    const AreaTable& a = spec.engine.tech.area;
    const double n = static_cast<double>(arch.arrays);
    const double cells = n * static_cast<double>(arch.rows * arch.cols) * a.cell_um2 * 1e-6;
    const double dacs = n * static_cast<double>(arch.rows) * a.dac_um2 * 1e-6;
    const double adcs = n * static_cast<double>(cfg.adcs_per_array()) * a.adc_um2 * 1e-6;
    const double sa = n * a.shift_add_um2 * 1e-6;
    const double peri = n * a.periphery_um2_per_array * 1e-6;
    s["area_mm2"] = {{"cells", cells},    {"dac", dacs},
                     {"adc", adcs},       {"shift_add", sa},
                     {"periphery", peri}, {"total", cells + dacs + adcs + sa + peri}};
  }
  s["totals"] = {
      {"computing_cycles", tot_cc},
      {"clock_cycles", tot_clk},
      {"latency_ns", latency_ns},
      {"energy_pj", energy_json(tot_events, table, arch.arrays, latency_ns)},
      {"utilization",
       {{"cells", tot_cells_avail
                      ? static_cast<double>(tot_mapped) / static_cast<double>(tot_cells_avail)
                      : 0.0},
        {"rows", tot_rows_avail
                     ? static_cast<double>(tot_rows) / static_cast<double>(tot_rows_avail)
                     : 0.0},
        {"cols", tot_cols_avail
                     ? static_cast<double>(tot_cols) / static_cast<double>(tot_cols_avail)
                     : 0.0}}},
      {"stalls", tot_stalls},
      {"events", events_json(tot_events)}};
  s["numerical"] = {{"exact", all_exact},
                    {"max_abs_error", worst},
                    {"output_max_abs_diff_vs_int_reference", max_diff(out_sim, out_int)},
                    {"output_max_abs_diff_vs_float", max_diff(out_sim, out_float)},
                    {"top1_simulated", argmax(out_sim)},
                    {"top1_int_reference", argmax(out_int)},
                    {"top1_float", argmax(out_float)},
                    {"activation_values_clamped", simulated.clamped}};
  if (spec.compression) {
    s["numerical"]["output_max_abs_diff_vs_uncompressed_float"] =
        max_diff(out_sim, out_uncompressed);
    s["numerical"]["top1_uncompressed_float"] = argmax(out_uncompressed);
    // What the engine ran for each compressed layer beside what the plan costs: R and L
    // (low-rank) or the pruned layer, computing cycles summed.
    bool plan_executed = true;
    for (auto& e : compression) {
      const std::string name = e["layer"].get<std::string>();
      int64_t engine_cc = 0;
      for (const auto& rec : records)
        if (rec.layer->name == name || rec.layer->name == compress::r_factor_name(name))
          engine_cc += rec.run.computing_cycles;
      e["engine_cycles"] = engine_cc;
      if (e["method"] != "dense")
        plan_executed = plan_executed && engine_cc == e["analytic_cycles"].get<int64_t>();
    }
    s["compression"] = {
        {"method", compress::to_string(spec.compression->spec.method)},
        {"executed", spec.compression->spec.method == compress::Method::Prune
                         ? "pruned weights, rows meeting only zeros skipped"
                         : "R and L layers on the plan's schedules (R's window and "
                           "group packing; L as I_N (x) L blocks or its im2col tiles)"},
        {"plan_executed", plan_executed},
        {"notes", compression_notes},
        {"layers", compression}};
  }
  s["layers"] = layers;

  RunResult r;
  r.run_id = id;
  r.summary = s;
  dir.write("resolved.yaml", resolved_yaml(spec));
  dir.write("summary.json", s.dump(2) + "\n");
  dir.write("layers.csv", csv);
  if (spec.engine.schedule_cycles > 0)
    dir.write("schedule.yaml", schedule_yaml(schedules, spec.engine.schedule_cycles));
  r.dir = dir.commit();
  if (!options.quiet) {
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    std::cerr << fmt::format(
        "imcsim: {} layers, {} computing cycles, {} clock cycles ({:.3f} us), "
        "{:.1f} nJ, exact: {} (wall {:.2f} s)\n",
        n_layers, tot_cc, tot_clk, latency_ns * 1e-3,
        s["totals"]["energy_pj"]["total"].get<double>() * 1e-3, all_exact ? "yes" : "no", wall);
  }
  return r;
}

Json reprice_summary(const Json& summary, const TechSpec& tech) {
  if (summary.value("mode", "") != "cycle")
    throw ConfigError("", 0, "mode",
                      "only the summary.json of a cycle run (mode: cycle) can be re-priced");
  Json out = summary;
  const int64_t adc_bits = summary.at("arch").at("adc_bits").get<int64_t>();
  const int64_t arrays = summary.at("arch").at("arrays").get<int64_t>();
  const EnergyTable table = tech.table_for(adc_bits);
  out["tech"] = tech.name;
  out["repriced_from"] = summary.value("tech", "");
  for (auto& l : out["layers"]) {
    l["energy_pj"] = energy_json(events_from_json(l.at("events")), table, arrays,
                                 l.at("latency_ns").get<double>());
  }
  out["totals"]["energy_pj"] =
      energy_json(events_from_json(summary.at("totals").at("events")), table, arrays,
                  summary.at("totals").at("latency_ns").get<double>());
  return out;
}

}  // namespace imcsim
