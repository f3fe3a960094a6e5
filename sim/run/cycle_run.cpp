#include "sim/run/cycle_run.hpp"

#include <fmt/format.h>

#include <algorithm>
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
#include "sim/run/cycle_summary.hpp"
#include "sim/run/stats_report.hpp"
#include "workloads/calibration.hpp"
#include "workloads/loader.hpp"
#include "workloads/npy_weights.hpp"
#include "workloads/onnx/tensor_proto.hpp"
#include "workloads/reference.hpp"

namespace imcsim {

namespace {

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

// The low-rank plan of an executed layer: "<layer>.R" (R) and "<layer>" (L) both map to the
// plan of <layer>; nullptr for any other layer.
const compress::LowRankMapping* plan_of(
    const std::map<std::string, const compress::LowRankMapping*>& plans, const std::string& name) {
  auto it = plans.find(name);
  if (it == plans.end()) it = plans.find(compress::layer_of_r_factor(name));
  return it == plans.end() ? nullptr : it->second;
}

// The network that runs: the workload as loaded, or its compressed form. Low-rank layers
// execute as their R and L convolutions on the schedules of the plan (R's window and group
// packing, L as I_N (x) L blocks or its im2col tiles; mappers/compress/lowrank_mapping.hpp),
// so engine and plan count the same activations.
struct RunNetwork {
  Network net;
  // The compressed network's weights; without compression the run reads the loaded ones
  // (no copy: VGG-13's are 0.5 GB).
  WeightSet compressed_weights;
  Json compression = Json::array();  // the plan's rows of summary.json "compression"
  std::vector<std::string> notes;
  std::map<std::string, LayerMapping> rowskip;  // pruned layers: their row-skipping mapping
  std::map<std::string, const compress::LowRankMapping*> lowrank;  // original layer -> plan
  compress::CompressionResult plan;                                // owns what `lowrank` points to
};

Json plan_rows(const compress::CompressionResult& plan) {
  Json rows = Json::array();
  for (const auto& cl : plan.layers) {
    rows.push_back({{"layer", cl.layer},
                    {"method", cl.method},
                    {"ranks", cl.ranks},
                    {"rel_error", cl.rel_error},
                    {"params", cl.params},
                    {"params_dense", cl.params_dense},
                    {"analytic_cycles", cl.mapping.cycles},
                    {"analytic_dense_cycles", cl.dense.cycles},
                    {"l_placement", cl.lowrank ? to_string(cl.lowrank->placement) : ""}});
  }
  return rows;
}

// Applies the experiment's compression section (nothing without one). The result is built
// in place: `lowrank` points into `plan`.
void compress_for_run(const ExperimentSpec& spec, const Network& original,
                      const WeightSet& original_weights, const ArrayGeometry& geom,
                      RunNetwork& rn) {
  rn.net = original;
  if (!spec.compression) return;
  compress::CompressionSpec cs = spec.compression->spec;
  cs.chip_arrays = spec.arch.arrays;  // L in R's idle cells only where R and L fit the chip at once
  rn.plan = compress::compress_network(original, original_weights, cs, geom, spec.convention);
  if (cs.method == compress::Method::Prune) {
    // Pruned weights in the original layers; their schedules skip the rows that meet only
    // zeros (make_row_skip_schedule), as the analytic plan costs them.
    rn.compressed_weights = original_weights;
    for (const auto& cl : rn.plan.layers) {
      if (!cl.pruned_weight) continue;
      rn.compressed_weights.layers.at(cl.layer).weight = *cl.pruned_weight;
      rn.rowskip[cl.layer] = cl.mapping;
    }
  } else {
    compress::ExpandedNetwork ex =
        compress::expand_lowrank(original, original_weights, rn.plan, true);
    for (const auto& cl : rn.plan.layers)
      if (cl.lowrank) rn.lowrank[cl.layer] = &*cl.lowrank;
    rn.net = std::move(ex.net);
    rn.compressed_weights = std::move(ex.weights);
    rn.notes = std::move(ex.notes);
  }
  rn.compression = plan_rows(rn.plan);
}

// The tile schedule of every conv/fc layer of the network that runs.
struct RunSchedules {
  std::vector<TileSchedule> schedules;
  std::map<std::string, size_t> index;  // layer name -> its schedule
  std::set<std::string> fused;          // low-rank layers with L in R's idle cells: one engine job
  // Weights stay resident when every layer's tiles fit on the chip at once; otherwise each
  // layer programs its arrays before it runs (REFERENCE §10 "weight (re)programming").
  bool resident = true;
  std::map<std::string, int64_t> pair_cycles;  // fused pair (its layer's name) -> the pair's plan
  const TileSchedule& of(const std::string& layer) const { return schedules[index.at(layer)]; }
};

TileSchedule row_skip_schedule(const LayerMapping& m, const Tensor& w, const ArchSpec& arch) {
  const int64_t icg = w.shape[1], kh = w.shape[2], kw = w.shape[3];
  return make_row_skip_schedule(
      m, arch.geometry(), arch.arrays,
      [&w, icg, kh, kw](int64_t oc, int64_t c, int64_t y, int64_t x) {
        return w.data[static_cast<size_t>(((oc * icg + c) * kh + y) * kw + x)] != 0.0f;
      });
}

RunSchedules schedule_network(const ExperimentSpec& spec, const RunNetwork& rn,
                              const WeightSet& weights, const MapperInfo& mapper) {
  const ArchSpec& arch = spec.arch;
  const ArrayGeometry geom = arch.geometry();
  const Network& net = rn.net;
  RunSchedules rs;
  int64_t total_tiles = 0;
  for (const auto& l : net.layers) {
    if (!l.on_arrays()) continue;
    if (auto skip = rn.rowskip.find(l.name); skip != rn.rowskip.end()) {
      rs.schedules.push_back(row_skip_schedule(skip->second, weights.at(l.name).weight, arch));
    } else if (const compress::LowRankMapping* lr = plan_of(rn.lowrank, l.name)) {
      // R runs as "<layer>.R" and L under the original name: both schedules come from the plan.
      const bool is_r = !compress::layer_of_r_factor(l.name).empty();
      const std::string base = is_r ? compress::layer_of_r_factor(l.name) : l.name;
      const Layer& r_layer = *net.find(compress::r_factor_name(base));
      const Layer& l_layer = *net.find(base);
      compress::LowRankSchedules ls =
          compress::lowrank_schedules(*lr, conv_shape(r_layer, spec.convention),
                                      conv_shape(l_layer, spec.convention), geom, arch.arrays);
      if (ls.fused) {
        rs.fused.insert(base);
        rs.pair_cycles[base] = lr->combined.cycles;
      }
      rs.schedules.push_back(is_r ? std::move(ls.r) : std::move(ls.l));
    } else {
      rs.schedules.push_back(make_schedule(map_layer(mapper, conv_shape(l, spec.convention), geom),
                                           geom, arch.arrays));
    }
    rs.index[l.name] = rs.schedules.size() - 1;
    total_tiles += static_cast<int64_t>(rs.schedules.back().tiles.size());
  }
  rs.resident = total_tiles <= arch.arrays;
  return rs;
}

// The engine of the run, with the VCD trace in the run folder when asked for.
EngineConfig run_engine_config(const ExperimentSpec& spec, const CycleOptions& options,
                               RunDir& dir) {
  EngineConfig cfg = engine_config(spec.arch, spec.engine);
  cfg.threads = options.threads;
  cfg.stage_processes = options.stage_processes;
  if (spec.engine.trace || options.trace) {
    cfg.trace.vcd_path = dir.path("trace.vcd");
    cfg.trace.layers = spec.engine.trace_layers;
    cfg.trace.from_ns = spec.engine.trace_from_ns;
    if (spec.engine.trace_to_ns >= 0) cfg.trace.to_ns = spec.engine.trace_to_ns;
  }
  return cfg;
}

// The integer inference's options: the architecture's bits and the calibration. With a
// fused low-rank pair, R's windows are requantized for L while R still runs, so L's input
// quantization must be fixed before the layer: every tensor's quantization is pinned from a
// reference pass over this input (what a calibration on it would give), for the engine and
// the reference alike.
ref::IntOptions int_options(const ExperimentSpec& spec, const Network& net,
                            std::map<std::string, ref::ActQuant> calibration,
                            const std::map<std::string, ref::QuantizedLayer>& qweights,
                            const ref::FloatTensor& input, bool pin) {
  ref::IntOptions iopt;
  iopt.weight_bits = static_cast<int>(spec.arch.weight_bits);
  iopt.input_bits = static_cast<int>(spec.arch.input_bits);
  iopt.calibration = std::move(calibration);
  if (!pin) return iopt;
  const ref::IntRun pre = ref::run_int(net, qweights, input, iopt);
  iopt.calibration.emplace("input", pre.input.quant);
  for (size_t i = 0; i < net.layers.size(); ++i)
    if (pre.layers[i].quantized) iopt.calibration.emplace(net.layers[i].name, pre.layers[i].quant);
  return iopt;
}

// The accumulators' check against the reference of the same input codes (max, mean and
// relative error), written into the layer's record.
void check_accumulators(LayerRecord& rec, const std::vector<int64_t>& acc,
                        const ref::IntTensor& want) {
  double sum_abs = 0, sum_sq = 0, ref_sq = 0;
  for (size_t k = 0; k < want.data.size(); ++k) {
    const int64_t d = std::llabs(acc[k] - want.data[k]);
    rec.max_abs_error = std::max(rec.max_abs_error, d);
    sum_abs += static_cast<double>(d);
    sum_sq += static_cast<double>(d) * static_cast<double>(d);
    ref_sq += static_cast<double>(want.data[k]) * static_cast<double>(want.data[k]);
  }
  rec.exact = rec.max_abs_error == 0 && std::isfinite(rec.rel_error) && !rec.requant_mismatch;
  rec.mean_abs_error = want.data.empty() ? 0 : sum_abs / static_cast<double>(want.data.size());
  rec.rel_error = ref_sq > 0 ? std::sqrt(sum_sq / ref_sq) : 0;
}

// The engine's events of a plain array layer against the analytic cost model
// (models/cost.hpp): event counts do not depend on stalls, so every kind a schedule accounts
// for must be equal. A difference is an engine or model defect, not bad input.
void check_events(const TileSchedule& s, const LayerRun& run, const CostParams& p) {
  const EventCounts model = analytic_events(s, p);
  for (int i = 0; i < kEventCount; ++i) {
    const auto e = static_cast<Event>(i);
    if (e == Event::CellWrite || e == Event::DigitalOp) continue;  // not a schedule's events
    const size_t k = static_cast<size_t>(i);
    if (run.events[k] != model[k])
      throw std::logic_error(fmt::format(
          "engine: layer {} counted {} {} events, the analytic cost model {} (models/cost.hpp)",
          s.layer, run.events[k], to_string(e), model[k]));
  }
}

// The next plain array layer's tiles, programmed on a second thread while the current
// layer simulates (the same cells as programmed at its turn; a low-rank pair's job
// programs its own).
struct ProgramAhead {
  std::string layer;
  std::future<std::vector<TileCells>> cells;
  std::vector<TileCells> take(const std::string& name) {
    if (!cells.valid() || layer != name) return {};
    return cells.get();
  }
};

// One pass of the network through the engine: the integer inference of the reference
// executor calls on_array_layer for every conv/fc layer (its accumulator hook); the engine
// runs the layer and its accumulators go on through the network. Digital layers between
// them are timed on the engine's digital units as the pass reaches them.
class NetworkExecution {
 public:
  NetworkExecution(const Network& net, const RunSchedules& rs,
                   const std::map<std::string, ref::QuantizedLayer>& qweights,
                   const ref::IntOptions& iopt, Engine& engine, BackgroundWorker& background,
                   const CycleOptions& options, std::vector<LayerRecord>& records)
      : net_(net),
        rs_(rs),
        qweights_(qweights),
        iopt_(iopt),
        engine_(engine),
        background_(background),
        options_(options),
        records_(records) {
    records_.assign(net.layers.size(), LayerRecord{});
    for (size_t i = 0; i < net.layers.size(); ++i) records_[i].layer = &net.layers[i];
  }

  // Runs the network on `input`; returns the integer run with the engine's accumulators.
  ref::IntRun run(const ref::FloatTensor& input) {
    ref::IntRun simulated = ref::run_int(
        net_, qweights_, input, iopt_,
        [this](const Layer& layer, const ref::IntTensor& codes, const ref::QuantizedLayer& q,
               int64_t zero_point) { return on_array_layer(layer, codes, q, zero_point); });
    time_digital_until(net_.layers.size());
    return simulated;
  }

 private:
  void progress(size_t index) {
    const auto now = std::chrono::steady_clock::now();
    const double wall_ms = std::chrono::duration<double, std::milli>(now - wall_prev_).count();
    wall_prev_ = now;
    if (options_.quiet) return;
    // Wall time goes to the terminal only: the run folder stays byte-identical across runs.
    std::cerr << fmt::format(
        "imcsim: layer {}/{} {} done, simulated {:.3f} us (wall {:.1f} ms)\n", index + 1,
        net_.layers.size(), net_.layers[index].name,
        static_cast<double>(engine_.now_clocks()) * engine_.config().timing.clock_ns * 1e-3,
        wall_ms);
  }

  void time_digital_until(size_t end) {
    for (; next_digital_ < end; ++next_digital_) {
      const Layer& l = net_.layers[next_digital_];
      if (l.on_arrays()) continue;
      records_[next_digital_].run = engine_.run_digital(l.name, l.out.elements());
      progress(next_digital_);
    }
  }

  bool in_fused_pair(const std::string& name) const {
    const std::string r_of = compress::layer_of_r_factor(name);
    return rs_.fused.count(r_of.empty() ? name : r_of) > 0;
  }

  // With a second thread: starts programming the next array layer after `index`, unless it
  // belongs to a fused pair or has very many tiles (two layers' cells are held at once;
  // VGG-13's fc6 has about 25 k tiles, some 200 MB of cells).
  void program_after(size_t index) {
    if (options_.threads < 2) return;
    for (size_t j = index + 1; j < net_.layers.size(); ++j) {
      const Layer& next = net_.layers[j];
      if (!next.on_arrays()) continue;
      if (in_fused_pair(next.name)) return;
      const TileSchedule& s = rs_.of(next.name);
      constexpr size_t kMaxTilesAhead = 4096;
      if (s.tiles.size() > kMaxTilesAhead) return;
      const ref::QuantizedLayer& q = qweights_.at(next.name);
      const EngineConfig& ecfg = engine_.config();
      ahead_.layer = next.name;
      ahead_.cells = std::async(
          std::launch::async, [&s, &q, &ecfg] { return program_layer(s, q.q, q.odd_grid, ecfg); });
      return;
    }
  }

  // R and L of a fused pair as one job (R's layer): R's record carries the activations, L's
  // the results. Returns R's accumulators.
  std::vector<int64_t> run_fused_pair(const Layer& layer, const std::string& base,
                                      const ref::IntTensor& codes, const ref::QuantizedLayer& q,
                                      int64_t zero_point, LayerRecord& rec) {
    const ref::QuantizedLayer& lq = qweights_.at(base);
    const double in_scale =
        iopt_.calibration.at(layer.inputs.empty() ? "input" : layer.inputs.front()).scale;
    const ref::ActQuant l_quant = iopt_.calibration.at(layer.name);
    const int bits = iopt_.input_bits;
    FusedLowRank job;
    job.r = rec.sched;
    job.l = &rs_.of(base);
    job.r_input = &codes.data;
    job.r_wq = &q.q;
    job.l_wq = &lq.q;
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
    FusedRun fr = engine_.run_fused_lowrank(job, !rs_.resident);
    rec.run = fr.run;
    rec.analytic_clocks = -1;                        // no closed form for the pipelined pair
    rec.analytic_cycles = rs_.pair_cycles.at(base);  // the pair's plan, as its job
    std::vector<int64_t> acc = fr.r_out;
    fused_runs_[base] = std::move(fr);
    return acc;
  }

  ref::IntTensor on_array_layer(const Layer& layer, const ref::IntTensor& codes,
                                const ref::QuantizedLayer& q, int64_t zero_point) {
    size_t index = 0;
    while (&net_.layers[index] != &layer && net_.layers[index].name != layer.name) ++index;
    time_digital_until(index);
    next_digital_ = index + 1;
    LayerRecord& rec = records_[index];
    rec.sched = &rs_.of(layer.name);
    const std::string r_of = compress::layer_of_r_factor(layer.name);
    const std::string base = r_of.empty() ? layer.name : r_of;
    const bool fused_r = rs_.fused.count(base) && base != layer.name;
    std::vector<int64_t> acc;
    if (fused_r) {
      acc = run_fused_pair(layer, base, codes, q, zero_point, rec);
    } else if (auto fr = fused_runs_.find(layer.name); fr != fused_runs_.end()) {
      // L of a fused job: its accumulators came with R's job; the input codes the reference
      // computed must be the ones the engine requantized.
      rec.run.layer = layer.name;
      rec.analytic_clocks = -1;
      rec.analytic_cycles = 0;  // its cycles are the pair's, on R's record
      acc = fr->second.l_out;
      if (engine_.config().functional && fr->second.l_input != codes.data)
        rec.requant_mismatch = true;
    } else {
      std::vector<TileCells> cells = ahead_.take(layer.name);
      program_after(index);
      rec.run = engine_.run_array_layer(*rec.sched, codes.data, q.q, acc, !rs_.resident, zero_point,
                                        q.odd_grid, cells.empty() ? nullptr : &cells);
      const CostParams cost = cost_params(engine_.config());
      rec.analytic_clocks = analytic_clocks(*rec.sched, cost, !rs_.resident);
      check_events(*rec.sched, rec.run, cost);
    }
    // (R of a fused job: its outputs were requantized window by window inside the job.)
    if (!fused_r) rec.requant = engine_.run_digital(layer.name + ".requant", layer.out.elements());
    progress(index);
    if (!engine_.config().functional)
      return ref::accumulate_int(layer, codes, q);  // the run goes on from it
    // The engine's accumulators go on through the network; their check against the
    // reference accumulators of the same input codes runs beside the engine.
    ref::IntTensor got(layer.out.c, layer.type == LayerType::Conv ? layer.out.h : 1,
                       layer.type == LayerType::Conv ? layer.out.w : 1);
    if (got.data.size() != acc.size())
      throw std::logic_error(fmt::format("engine: layer {} gave {} accumulators, expected {}",
                                         layer.name, acc.size(), got.data.size()));
    got.data = acc;
    background_.post(
        [&rec, &layer, &q, codes, acc = std::move(acc)] {
          check_accumulators(rec, acc, ref::accumulate_int(layer, codes, q));
        },
        true);
    return got;
  }

  const Network& net_;
  const RunSchedules& rs_;
  const std::map<std::string, ref::QuantizedLayer>& qweights_;
  const ref::IntOptions& iopt_;
  Engine& engine_;
  BackgroundWorker& background_;
  const CycleOptions& options_;
  // Owned by the caller, declared before the background worker: a check still running when
  // an exception unwinds the run writes into records that still exist.
  std::vector<LayerRecord>& records_;
  size_t next_digital_ = 0;  // network layers before this index have been timed
  std::chrono::steady_clock::time_point wall_prev_ = std::chrono::steady_clock::now();
  std::map<std::string, FusedRun> fused_runs_;  // L's results of a fused job, by layer
  ProgramAhead ahead_;
};

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

namespace {

// Frees the float weight tensors (shapes, biases and BatchNorm stay).
void release_weight_tensors(WeightSet& w) {
  for (auto& [name, lw] : w.layers) std::vector<float>().swap(lw.weight.data);
}

// summary.json of a finished run, in its key order (a contract: goldens compare it).
Json cycle_summary(const ExperimentSpec& spec, const std::string& id, const RunNetwork& rn,
                   const WeightSet& weights, const EngineConfig& cfg, bool resident,
                   const LayerTable& table, const RunOutputs& outputs,
                   const std::vector<LayerRecord>& records) {
  Json s;
  s["imcsim_version"] = kVersion;
  s["experiment"] = spec.name;
  s["run_id"] = id;
  s["mode"] = "cycle";
  s["workload"] = rn.net.name;
  s["mapper"] = find_mapper(spec.mappers.front()).name;
  s["convention"] = to_string(spec.convention);
  s["tech"] = spec.engine.tech.name;
  s["weights"] = weights.source.rfind("synthetic", 0) == 0 ? weights.source : "npy";
  s["input"] = spec.engine.input == "seeded" ? fmt::format("seeded(seed={})", spec.seed) : "file";
  s["calibration"] = spec.engine.calibration == "dynamic" ? "dynamic" : "file";
  s["arch"] = arch_json(spec.arch, cfg);
  s["weights_resident"] = resident;
  s["area_mm2"] = area_json(spec.arch, spec.engine.tech.area, cfg.adcs_per_array());
  s["totals"] = table.totals;
  s["numerical"] = numerical_json(table, outputs);
  if (spec.compression)
    s["compression"] =
        compression_summary(spec.compression->spec.method, rn.compression, rn.notes, records);
  s["layers"] = table.layers;
  return s;
}

// stats.json: each layer's statistics tree (its array or digital run plus its
// requantization); records without activity (L of a fused pair) are left out.
std::string run_stats_json(const std::vector<LayerRecord>& records, const EnergyTable& table) {
  std::vector<std::string> names;
  std::vector<StatNode> trees;
  for (const LayerRecord& rec : records) {
    StatNode t = rec.run.stats;
    t.add(rec.requant.stats);
    if (t.all_zero()) continue;
    t.name = "chip";
    names.push_back(rec.layer->name);
    trees.push_back(std::move(t));
  }
  return stats_json(names, trees, table).dump(2) + "\n";
}

// The run's one line on stderr (not with -q).
void print_run_line(const Network& net, const LayerTable& table, const Json& summary,
                    std::chrono::steady_clock::time_point wall0) {
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  std::cerr << fmt::format(
      "imcsim: {} layers, {} computing cycles, {} clock cycles ({:.3f} us), "
      "{:.1f} nJ, exact: {} (wall {:.2f} s)\n",
      net.layers.size(), table.computing_cycles, table.clock_cycles, table.latency_ns * 1e-3,
      summary["totals"]["energy_pj"]["total"].get<double>() * 1e-3, table.all_exact ? "yes" : "no",
      wall);
}

}  // namespace

RunResult run_cycle(const ExperimentSpec& spec, const std::string& output_root,
                    const CycleOptions& options) {
  const auto wall0 = std::chrono::steady_clock::now();
  const Network original = load_workload_file(spec.workload_file);
  WeightSet original_weights = load_weights(spec, original);
  const ref::FloatTensor input = load_input(spec, original);
  const ArchSpec& arch = spec.arch;
  if (arch.weight_bits < 2) {
    throw ConfigError(spec.file, 0, "arch.weight_bits",
                      "mode cycle computes real values and needs signed weights of at least 2 "
                      "bits (one weight per column is an analytic-only convention)");
  }
  const MapperInfo& mapper = find_mapper(spec.mappers.front());
  RunNetwork rn;
  compress_for_run(spec, original, original_weights, arch.geometry(), rn);
  const Network& net = rn.net;
  WeightSet& weights = spec.compression ? rn.compressed_weights : original_weights;
  const RunSchedules rs = schedule_network(spec, rn, weights, mapper);

  // The calibration names tensors of the network that runs (expanded R/L layers included);
  // read before the run folder exists, so a bad file leaves nothing behind.
  std::map<std::string, ref::ActQuant> calibration;
  if (spec.engine.calibration != "dynamic")
    calibration = load_calibration(spec.engine.calibration, net, static_cast<int>(arch.input_bits))
                      .act_quant();

  const std::string id = run_id(spec);
  RunDir dir(output_root, id);
  const EngineConfig cfg = run_engine_config(spec, options, dir);
  Engine engine(cfg);

  // The references do not depend on the engine: they run on a second thread while it
  // simulates (sim/run/background.hpp; the same values as computed after it).
  // Only their outputs are kept (each pass's per-layer tensors are freed as it ends).
  // Declared before the worker, whose tasks read or write them: they outlive it.
  ref::FloatTensor out_int, out_float, out_uncompressed;
  std::vector<LayerRecord> records;
  std::map<std::string, ref::QuantizedLayer> qweights;
  ref::IntOptions iopt;
  BackgroundWorker background(options.threads > 1);
  // The float passes need no quantized weights: they start while the weights are quantized.
  background.post([&] { out_float = ref::run_float(net, weights, input).output(); });
  // The uncompressed network in float: what compression costs in output accuracy.
  if (spec.compression)
    background.post(
        [&] { out_uncompressed = ref::run_float(original, original_weights, input).output(); });
  qweights = ref::quantize_weights(net, weights, static_cast<int>(arch.weight_bits));
  iopt = int_options(spec, net, std::move(calibration), qweights, input, !rs.fused.empty());
  // Nothing reads the float weight tensors after the float passes and the quantization: freed
  // on the worker once the passes queued before have ended (VGG-13: 133 M floats, 0.5 GB).
  background.post([&] {
    release_weight_tensors(weights);
    if (spec.compression) release_weight_tensors(original_weights);
  });
  // The integer reference's output: below the lossless ADC bound (LSBs dropped) it is its
  // own pass beside the engine. At the bound every layer's check is expected exact, and then
  // that pass would repeat what the checks compute: by induction over the layers, when each
  // layer's engine accumulators equal the reference accumulators of the same input codes
  // (and a fused L's requantized input is the reference's), every layer's input codes are
  // the reference's and the simulated output is the reference output. It runs after the
  // engine only if some layer was not exact (a defect the summary reports).
  const bool lossy = cfg.functional && cfg.datapath.lsb_shift() > 0;
  auto reference_int = [&] { return ref::run_int(net, qweights, input, iopt).output(); };
  if (lossy) background.post([&] { out_int = reference_int(); });

  NetworkExecution execution(net, rs, qweights, iopt, engine, background, options, records);
  const ref::IntRun simulated = execution.run(input);
  engine.finish();
  background.join();
  // (Timing only: the run went on from the reference accumulators themselves.)
  if (!lossy)
    out_int = lossless_reference_output(records, cfg.functional, simulated.output(), reference_int);

  const EnergyTable energy = spec.engine.tech.table_for(arch.adc_bits);
  const LayerTable table = layer_table(records, arch, energy, cfg.timing.clock_ns);
  const RunOutputs outputs{&simulated, &out_int, &out_float,
                           spec.compression ? &out_uncompressed : nullptr};
  RunResult r;
  r.run_id = id;
  r.summary = cycle_summary(spec, id, rn, weights, cfg, rs.resident, table, outputs, records);
  dir.write("resolved.yaml", resolved_yaml(spec));
  dir.write("summary.json", r.summary.dump(2) + "\n");
  dir.write("layers.csv", table.csv);
  dir.write("stats.json", run_stats_json(records, energy));
  if (spec.engine.schedule_cycles > 0)
    dir.write("schedule.yaml", schedule_yaml(rs.schedules, spec.engine.schedule_cycles));
  r.dir = dir.commit();
  if (!options.quiet) print_run_line(net, table, r.summary, wall0);
  return r;
}

}  // namespace imcsim
