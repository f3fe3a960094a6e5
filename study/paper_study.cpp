// paper_study: the analytic part of the paper study (issue 9, scripts/paper-study).
// For every workload x array size x method variant of configs/experiments/paper/study.yaml:
//  - computing cycles on paper-level arrays (one weight per column, REFERENCE §9), per layer
//    with row/column utilization (REFERENCE §12);
//  - computing cycles and activity-based event counts on the energy arrays (bit-sliced
//    weights, the cost model models/cost.hpp), priced with the study's technology table
//    (REFERENCE §11);
//  - weight reconstruction error, and on the workload with trained weights the logit error
//    and top-1 agreement of the compressed network vs the uncompressed one on seeded inputs
//    (REFERENCE §13; there are no dataset images here).
// Writes DIR/results.csv, DIR/layers.csv, DIR/energy_tables.json. --pin FILE writes the
// headline numbers of the pinned variants; --check FILE recomputes only those and compares.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mappers/compress/compress.hpp"
#include "mappers/mapper.hpp"
#include "mappers/schedule.hpp"
#include "models/cost.hpp"
#include "sim/config/config_engine.hpp"
#include "sim/config/param.hpp"
#include "study/paper.hpp"
#include "workloads/error.hpp"
#include "workloads/loader.hpp"
#include "workloads/npy_weights.hpp"
#include "workloads/parallel.hpp"
#include "workloads/reference.hpp"
#include "workloads/yaml_reader.hpp"

namespace imcsim::paper {
namespace {

using Json = nlohmann::ordered_json;
using namespace compress;

// ---- configuration ----------------------------------------------------------------------

struct Variant {
  std::string label;   // sdk, lowrank-r4, group-in-g4-r2, prune-pat6, ...
  std::string method;  // im2col | sdk | vwsdk | lowrank | group-lowrank | prune
  int64_t rank = 0, groups = 1;
  std::string axis, patterns;
  bool dense() const { return method == "im2col" || method == "sdk" || method == "vwsdk"; }
};

struct WorkloadCfg {
  std::string name;
  std::string weights;  // .npy folder (absolute) or empty = synthetic from the seed
};

struct StudyCfg {
  std::string file;
  std::vector<WorkloadCfg> workloads;
  // seed, convention, base_mapper and the energy arrays: defaults of the study table
  // (sim/config/param.hpp, `imcsim list study`; the energy keys copy the arch entries).
  uint64_t seed = 0;
  Convention convention = Convention::Framework;
  std::vector<int64_t> arrays;
  std::string base_mapper;
  std::vector<Variant> variants;
  // Energy arrays (REFERENCE §9-§11): weights bit-sliced, offset encoding, ADC lossless.
  int64_t weight_bits = 0, cell_bits = 0, input_bits = 0, dac_bits = 0, chip_arrays = 0;
  std::string tech;  // resolved path
  std::vector<std::string> pin;
};

// A non-empty list under `key` of `n`, each element read by `elem`.
template <typename F>
auto list_of(const YamlNode& n, const std::string& key, F elem) {
  const YamlNode l = n.child(key);
  l.expect_seq();
  std::vector<decltype(elem(l))> v;
  for (const YamlNode& x : l.items()) v.push_back(elem(x));
  if (v.empty()) l.fail("expected a non-empty list");
  return v;
}

int64_t size_of(const YamlNode& x) {
  return x.as_int(1, 65536);
}

std::string dir_of(const std::string& f) {
  const auto p = f.find_last_of('/');
  return p == std::string::npos ? std::string(".") : f.substr(0, p);
}

StudyCfg load_study(const std::string& file) {
  StudyCfg c;
  c.file = file;
  const YamlNode root = YamlNode::load_file(file, ErrorKind::Config);
  root.expect_map();
  root.allow_only({"study"});
  const YamlNode s = root.child("study");
  s.expect_map();
  s.allow_only({"workloads", "seed", "convention", "arrays", "dense", "base_mapper", "lowrank",
                "group_lowrank", "prune", "energy", "pin"});
  const std::string base = dir_of(file);
  const YamlNode wls = s.child("workloads");
  wls.expect_map();
  for (const auto& [name, wn] : wls.entries()) {
    WorkloadCfg w;
    w.name = name;
    wn.expect_map();
    wn.allow_only({"weights"});
    const std::string wt = wn.child("weights").as_string();
    if (wt.empty()) wn.child("weights").fail_expected("synthetic or a .npy folder");
    if (wt != "synthetic")
      w.weights = wt.front() == '/' ? wt : (std::filesystem::path(base) / wt).string();
    c.workloads.push_back(w);
  }
  if (c.workloads.empty()) wls.fail("expected at least one workload");
  const ParamTable& st = param_table("study");
  c.seed = static_cast<uint64_t>(param_int(s, st, "seed"));
  c.convention =
      param_choice(s, st, "convention") == "vwsdk" ? Convention::VwSdk : Convention::Framework;
  c.arrays = list_of(s, "arrays", size_of);
  c.base_mapper = param_choice(s, st, "base_mapper");
  for (const auto& m : list_of(s, "dense", [](const YamlNode& x) {
         return x.as_choice({"im2col", "sdk", "vwsdk"});
       }))
    c.variants.push_back({m, m, 0, 1, "", ""});
  const YamlNode lr = s.child("lowrank");
  lr.expect_map();
  lr.allow_only({"ranks"});
  for (int64_t r : list_of(lr, "ranks", size_of))
    c.variants.push_back({fmt::format("lowrank-r{}", r), "lowrank", r, 1, "", ""});
  const YamlNode g = s.child("group_lowrank");
  g.expect_map();
  g.allow_only({"ranks", "groups", "axes"});
  const auto axes = list_of(g, "axes", [](const YamlNode& x) {
    return x.as_choice({"in", "out"});
  });
  const auto groups = list_of(g, "groups", size_of);
  const auto ranks = list_of(g, "ranks", size_of);
  for (const auto& ax : axes)
    for (int64_t n : groups)
      for (int64_t r : ranks)
        c.variants.push_back(
            {fmt::format("group-{}-g{}-r{}", ax, n, r), "group-lowrank", r, n, ax, ""});
  const YamlNode p = s.child("prune");
  p.expect_map();
  p.allow_only({"patterns"});
  for (const auto& ps : list_of(p, "patterns", [](const YamlNode& x) { return x.as_string(); }))
    c.variants.push_back({"prune-" + ps, "prune", 0, 1, "", ps});
  const YamlNode e = s.child("energy");
  e.expect_map();
  e.allow_only({"tech", "weight_bits", "cell_bits", "input_bits", "dac_bits", "arrays"});
  c.tech = resolve_tech(param_text(e, st, "energy.tech"), file);
  c.weight_bits = param_int(e, st, "energy.weight_bits");
  c.cell_bits = param_int(e, st, "energy.cell_bits");
  c.input_bits = param_int(e, st, "energy.input_bits");
  c.dac_bits = param_int(e, st, "energy.dac_bits");
  c.chip_arrays = param_int(e, st, "energy.arrays");
  const YamlNode pin = s.child("pin");
  c.pin = list_of(s, "pin", [](const YamlNode& x) { return x.as_string(); });
  for (const auto& l : c.pin) {
    if (std::none_of(c.variants.begin(), c.variants.end(),
                     [&](const Variant& v) { return v.label == l; }))
      pin.fail(fmt::format("no variant \"{}\" in the study", l));
  }
  return c;
}

// ---- one point ---------------------------------------------------------------------------

struct Workload {
  WorkloadCfg cfg;
  Network net;
  WeightSet weights;
  std::map<std::string, double> norm2;  // ||W||_F^2 per on-array layer
};

struct LayerRow {
  std::string layer, method, placement;
  int64_t cycles = 0, cycles_dense = 0;
  int64_t r_cycles = 0;  // low-rank: R's share of `cycles` (the rest is L)
  std::string layout;    // method and parallel window, e.g. "sdk 3x3" or "R-sdk 4x4+L-im2col"
  double row_util = 0, col_util = 0, util = 0, rel_error = 0;
  int64_t rank = 0;
};

struct PointResult {
  const Workload* w = nullptr;
  int64_t array = 0;
  const Variant* v = nullptr;
  int64_t cycles = 0, params = 0, params_dense = 0, compressed_layers = 0;
  double weight_rel_error = 0;  // over the compressed layers, Frobenius
  int64_t energy_cycles = 0;
  EventCounts events{};
  int64_t digital_ops = 0;
  std::vector<LayerRow> layers;
  CompressionSpec spec;  // for the accuracy pass (compressed variants)
};

CompressionSpec spec_of(const Variant& v, const Network& net, const std::string& base_mapper) {
  CompressionSpec s;
  s.mapper = base_mapper;
  s.l_placement = LPlacement::Auto;
  if (v.method == "prune") {
    s.method = Method::Prune;
    s.prune.patterns = builtin_patterns(v.patterns);
  } else {
    s.method = v.method == "group-lowrank" ? Method::GroupLowRank : Method::LowRank;
    s.rank.rule = RankRule::Fixed;
    s.rank.rank = v.rank;
    s.groups = v.groups;
    s.axis = v.axis == "out" ? GroupAxis::Out : GroupAxis::In;
  }
  // Choice: 1x1 convolutions (projection shortcuts) stay dense for every method; the first
  // conv and the classifier stay dense (CompressionSpec defaults).
  for (const auto& l : net.layers)
    if (l.type == LayerType::Conv && l.k_h == 1 && l.k_w == 1) s.layers[l.name].skip = true;
  return s;
}

// The cost model's parameters on the energy arrays (offset encoding: one column per slice).
CostParams event_params(const StudyCfg& c, const TechSpec& tech) {
  CostParams p;
  p.input_bits = c.input_bits;
  p.phases = (c.input_bits + c.dac_bits - 1) / c.dac_bits;
  p.cols_per_weight = (c.weight_bits + c.cell_bits - 1) / c.cell_bits;
  p.timing = tech.timing;
  return p;
}

ArrayGeometry energy_geometry(const StudyCfg& c, int64_t n) {
  return ArrayGeometry::sliced(n, n, c.weight_bits, c.cell_bits, false);
}

// A compression result re-mapped on another array: the decomposition (ranks, group sizes,
// errors) does not depend on the array, so the SVDs run once per variant and only the
// placement is recomputed (map_lowrank costs a structure without weights). Pruning blocks
// follow the column tile, so pruning is recomputed by compress_network (no SVD).
CompressionResult on_array(const CompressionResult& base, const Workload& w,
                           const CompressionSpec& spec, const ArrayGeometry& a, Convention conv) {
  if (spec.method == Method::Prune) return compress_network(w.net, w.weights, spec, a, conv);
  CompressionResult r = base;
  r.array = a;
  const MapperInfo& mapper = find_mapper(spec.mapper);
  for (CompressedLayer& cl : r.layers) {
    const ConvShape shape = conv_shape(*w.net.find(cl.layer), conv);
    cl.dense = map_layer(mapper, shape, a);
    if (cl.method == "dense") {
      cl.mapping = cl.dense;
      continue;
    }
    LowRankStructure st;
    st.axis = cl.groups > 1 ? (cl.axis == "out" ? GroupAxis::Out : GroupAxis::In) : spec.axis;
    st.sizes = cl.group_sizes;
    st.ranks = cl.ranks;
    cl.lowrank =
        map_lowrank(shape, st, a, window_search_from_string(spec.mapper), spec.l_placement);
    cl.mapping = cl.lowrank->combined;
  }
  return r;
}

// LayerRow of a dense layer mapped as `m`; `dense_cycles` are the sdk mapping's.
LayerRow dense_row(const LayerMapping& m, int64_t dense_cycles) {
  LayerRow row;
  row.layer = m.layer;
  row.method = m.method;
  row.cycles = m.cycles;
  row.cycles_dense = dense_cycles;
  row.row_util = m.row_utilization;
  row.col_util = m.col_utilization;
  row.util = m.utilization;
  row.layout = fmt::format("{} {}x{}", m.method, m.win_h, m.win_w);
  return row;
}

// A dense variant: every layer mapped by the variant's mapper on both arrays.
void run_dense_point(const StudyCfg& c, const Workload& w, const Variant& v, const MapperInfo& sdk,
                     const ArrayGeometry& paper_geom, const ArrayGeometry& egeom,
                     const CostParams& ep, PointResult& r) {
  const NetworkMapping nm = map_network(w.net, find_mapper(v.method), paper_geom, c.convention);
  const NetworkMapping base = map_network(w.net, sdk, paper_geom, c.convention);
  r.cycles = nm.total_cycles();
  for (size_t i = 0; i < nm.layers.size(); ++i) {
    const LayerMapping& m = nm.layers[i];
    r.layers.push_back(dense_row(m, base.layers[i].cycles));
    r.params += w.weights.at(m.layer).weight.size();
  }
  r.params_dense = r.params;
  const NetworkMapping em = map_network(w.net, find_mapper(v.method), egeom, c.convention);
  r.energy_cycles = em.total_cycles();
  for (const auto& m : em.layers) {
    add_events(r.events, analytic_events(make_schedule(m, egeom, c.chip_arrays), ep));
    r.digital_ops += m.shape.oc * m.shape.groups * m.shape.o_h * m.shape.o_w;
  }
}

// Layer rows of a compressed network on the paper arrays (`base`: the sdk mapping) and
// the weight error over its compressed layers.
void add_compressed_rows(const Workload& w, const CompressionResult& cr, const NetworkMapping& base,
                         PointResult& r) {
  double err_num = 0, err_den = 0;
  for (size_t i = 0; i < cr.layers.size(); ++i) {
    const CompressedLayer& cl = cr.layers[i];
    const LayerMapping& m = cl.mapping;
    LayerRow row;
    row.layer = cl.layer;
    row.method = cl.method;
    row.cycles = m.cycles;
    row.cycles_dense = base.layers[i].cycles;
    row.row_util = m.row_utilization;
    row.col_util = m.col_utilization;
    row.util = m.utilization;
    row.rel_error = cl.rel_error;
    row.layout = fmt::format("{} {}x{}", m.method, m.win_h, m.win_w);
    if (cl.lowrank) {
      row.placement = to_string(cl.lowrank->placement);
      row.r_cycles = cl.lowrank->r_cycles;
    }
    for (int64_t k : cl.ranks) row.rank += k;
    r.layers.push_back(row);
    if (cl.method != "dense") {
      ++r.compressed_layers;
      const double nn = w.norm2.at(cl.layer);
      err_num += cl.rel_error * cl.rel_error * nn;
      err_den += nn;
    }
  }
  r.weight_rel_error = err_den > 0 ? std::sqrt(err_num / err_den) : 0.0;
}

// Events and digital operations of a compressed network placed on the energy arrays.
void add_compressed_events(const StudyCfg& c, const Workload& w, const CompressionResult& er,
                           const ArrayGeometry& egeom, const CostParams& ep, PointResult& r) {
  for (const CompressedLayer& cl : er.layers) {
    const LayerMapping& m = cl.mapping;
    const ConvShape& s = cl.dense.shape;
    r.digital_ops += s.oc * s.groups * s.o_h * s.o_w;  // requantization of the layer output
    if (cl.lowrank) {
      const LowRankMapping& lm = *cl.lowrank;
      // R and L on the schedules the engine executes (R's window and group packing, L as
      // I_N (x) L blocks with R's window or as its own im2col layer).
      ConvShape r_shape = s;
      r_shape.layer = s.layer + ".R";
      r_shape.oc = lm.r.shape.oc;
      const LowRankSchedules ls = lowrank_schedules(lm, r_shape, lm.l.shape, egeom, c.chip_arrays);
      add_events(r.events, analytic_events(ls.r, ep));
      add_events(r.events, analytic_events(ls.l, ep));
      r.digital_ops += lm.r.shape.oc * s.o_h * s.o_w;  // R's outputs requantized for L
    } else if (cl.rowskip) {
      const int64_t block_oc = std::min(s.oc, egeom.weight_cols());
      const PrunedWeights pw =
          prune_patterns(w.weights.at(cl.layer).weight, r.spec.prune, block_oc, cl.layer);
      add_events(r.events, rowskip_events(*cl.rowskip, pw, s, ep));
    } else {
      add_events(r.events, analytic_events(make_schedule(m, egeom, c.chip_arrays), ep));
    }
  }
}

PointResult run_point(const StudyCfg& c, const TechSpec& tech, const Workload& w, int64_t n,
                      const Variant& v, const CompressionResult* base_result) {
  PointResult r;
  r.w = &w;
  r.array = n;
  r.v = &v;
  const ArrayGeometry paper_geom = ArrayGeometry::ideal(n, n);
  const ArrayGeometry egeom = energy_geometry(c, n);
  const CostParams ep = event_params(c, tech);
  const MapperInfo& sdk = find_mapper("sdk");
  for (const auto& l : w.net.layers)
    if (!l.on_arrays()) r.digital_ops += l.out.elements();

  if (v.dense()) {
    run_dense_point(c, w, v, sdk, paper_geom, egeom, ep, r);
    return r;
  }

  r.spec = spec_of(v, w.net, c.base_mapper);
  const CompressionResult cr = on_array(*base_result, w, r.spec, paper_geom, c.convention);
  r.cycles = cr.cycles();
  r.params = cr.params();
  r.params_dense = cr.params_dense();
  const NetworkMapping base = map_network(w.net, sdk, paper_geom, c.convention);
  add_compressed_rows(w, cr, base, r);

  // Energy arrays: the same decomposition, placed again (tiles and pruning blocks follow
  // the array).
  const CompressionResult er = on_array(*base_result, w, r.spec, egeom, c.convention);
  r.energy_cycles = er.cycles();
  add_compressed_events(c, w, er, egeom, ep, r);
  return r;
}

// ---- output ------------------------------------------------------------------------------

std::string g9(double x) {
  return fmt::format("{:.9g}", x);
}

int64_t lossless_adc_bits(const StudyCfg& c, int64_t rows) {
  return imcsim::lossless_adc_bits(rows, c.cell_bits, c.dac_bits);
}

// The point's events and its digital units' ops, priced as a cycle run prices them
// (price_events, models/tech.hpp), by component.
std::map<std::string, double> price(const EventCounts& e, int64_t digital_ops,
                                    const EnergyTable& t) {
  EventCounts all = e;
  all[static_cast<size_t>(Event::DigitalOp)] += digital_ops;
  const ComponentEnergy priced = price_events(all, t);
  std::map<std::string, double> out;
  for (int c = 0; c < kComponentCount; ++c)
    out[kEnergyComponents[c]] = priced.pj[static_cast<size_t>(c)];
  return out;
}

// Top-1 accuracy on real images is measured by scripts/paper-accuracy (imcsim eval on the
// exported compressed networks), not here.
struct Outputs {
  std::vector<PointResult> points;
};

// Points of `variants` (labels; empty = all), `threads` at a time.
Outputs run_study(const StudyCfg& c, const TechSpec& tech, const std::vector<Workload>& wls,
                  const std::vector<std::string>& only, int threads, bool progress) {
  struct Task {
    const Workload* w;
    int64_t n;
    const Variant* v;
  };
  std::vector<Task> tasks;
  for (const auto& w : wls)
    for (int64_t n : c.arrays)
      for (const auto& v : c.variants)
        if (only.empty() || std::find(only.begin(), only.end(), v.label) != only.end())
          tasks.push_back({&w, n, &v});
  Outputs out;
  out.points.resize(tasks.size());
  // Phase 1: one decomposition per (workload, compressed variant), on the first array.
  std::vector<std::pair<const Workload*, const Variant*>> base_keys;
  for (const auto& w : wls)
    for (const auto& v : c.variants)
      if (!v.dense() &&
          (only.empty() || std::find(only.begin(), only.end(), v.label) != only.end()))
        base_keys.push_back({&w, &v});
  std::vector<CompressionResult> bases(base_keys.size());
  parallel_for(static_cast<int64_t>(base_keys.size()), threads, [&](int64_t k) {
    const auto i = static_cast<size_t>(k);
    const auto& [w, v] = base_keys[i];
    bases[i] =
        compress_network(w->net, w->weights, spec_of(*v, w->net, c.base_mapper),
                         ArrayGeometry::ideal(c.arrays.front(), c.arrays.front()), c.convention);
  });
  auto base_of = [&](const Workload* w, const Variant* v) -> const CompressionResult* {
    for (size_t i = 0; i < base_keys.size(); ++i)
      if (base_keys[i].first == w && base_keys[i].second == v) return &bases[i];
    return nullptr;
  };
  // Self-check: re-placing a decomposition on its own array gives compress_network's cycles.
  for (size_t i = 0; i < base_keys.size(); ++i) {
    const auto& [w, v] = base_keys[i];
    const CompressionSpec spec = spec_of(*v, w->net, c.base_mapper);
    const ArrayGeometry g = ArrayGeometry::ideal(c.arrays.front(), c.arrays.front());
    if (on_array(bases[i], *w, spec, g, c.convention).cycles() != bases[i].cycles())
      throw MappingError("", 0, v->label, "re-placed decomposition differs from compress_network");
  }

  parallel_for(static_cast<int64_t>(tasks.size()), threads, [&](int64_t k) {
    const auto i = static_cast<size_t>(k);
    out.points[i] =
        run_point(c, tech, *tasks[i].w, tasks[i].n, *tasks[i].v, base_of(tasks[i].w, tasks[i].v));
    if (progress && (i + 1) % 100 == 0)
      std::cerr << fmt::format("paper_study: {}/{} tasks\n", i + 1, tasks.size());
  });
  return out;
}

Json point_json(const StudyCfg& c, const TechSpec& tech, const PointResult& p) {
  Json j;
  j["workload"] = p.w->cfg.name;
  j["array"] = p.array;
  j["variant"] = p.v->label;
  j["cycles"] = p.cycles;
  j["energy_cycles"] = p.energy_cycles;
  const auto e = price(p.events, p.digital_ops, tech.table_for(lossless_adc_bits(c, p.array)));
  double compute = 0;
  for (const auto& [k, x] : e) compute += k == "programming" ? 0 : x;
  j["energy_pj"] = compute;
  j["adc_pj"] = e.at("adc");
  j["weight_rel_error"] = p.weight_rel_error;
  return j;
}

// Writes `text` to `path` whole or not at all (a temporary beside it, renamed into place),
// creating the folder when it does not exist.
void write_file(const std::string& path, const std::string& text) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) throw ConfigError(path, 0, "", "cannot create its folder: " + ec.message());
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << text;
    if (!f.flush()) {
      std::filesystem::remove(tmp, ec);
      throw ConfigError(path, 0, "", "cannot write");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::filesystem::remove(tmp, ec);
    throw ConfigError(path, 0, "", "cannot write");
  }
}

void write_outputs(const StudyCfg& c, const TechSpec& tech, const Outputs& o,
                   const std::string& dir) {
  std::ostringstream rc, lc;
  rc << "workload,weights,array,variant,method,rank,groups,axis,patterns,cycles,cycles_sdk,speedup_"
        "vs_sdk,"
        "params,params_dense,compressed_layers,weight_rel_error,"
        "energy_array_cols_per_weight,adc_bits,energy_cycles,digital_ops";
  for (int i = 0; i < kEventCount; ++i) rc << ",ev_" << to_string(static_cast<Event>(i));
  for (const char* k : kEnergyComponents) rc << ",e_" << k << "_pj";
  rc << ",energy_compute_pj\n";
  lc << "workload,array,variant,layer,method,placement,rank,cycles,cycles_sdk,row_utilization,"
        "col_utilization,utilization,rel_error,r_cycles,layout\n";
  std::map<std::pair<std::string, int64_t>, int64_t> sdk_cycles;
  for (const auto& p : o.points)
    if (p.v->label == "sdk") sdk_cycles[{p.w->cfg.name, p.array}] = p.cycles;
  const int64_t cpw = (c.weight_bits + c.cell_bits - 1) / c.cell_bits;
  for (const auto& p : o.points) {
    const Variant& v = *p.v;
    const int64_t base =
        sdk_cycles.count({p.w->cfg.name, p.array}) ? sdk_cycles.at({p.w->cfg.name, p.array}) : 0;
    const int64_t adc_bits = lossless_adc_bits(c, p.array);
    rc << fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}", p.w->cfg.name,
                      p.w->cfg.weights.empty() ? "synthetic" : "trained", p.array, v.label,
                      v.method, v.rank, v.groups, v.axis, v.patterns, p.cycles, base,
                      base > 0 ? g9(static_cast<double>(base) / static_cast<double>(p.cycles)) : "",
                      p.params, p.params_dense, p.compressed_layers, g9(p.weight_rel_error), cpw,
                      adc_bits, p.energy_cycles, p.digital_ops);
    for (int i = 0; i < kEventCount; ++i) rc << "," << p.events[static_cast<size_t>(i)];
    const auto e = price(p.events, p.digital_ops, tech.table_for(adc_bits));
    double compute = 0;
    for (const char* k : kEnergyComponents) {
      rc << "," << g9(e.at(k));
      if (std::string(k) != "programming") compute += e.at(k);
    }
    rc << "," << g9(compute) << "\n";
    for (const auto& l : p.layers)
      lc << fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", p.w->cfg.name, p.array,
                        v.label, l.layer, l.method, l.placement, l.rank, l.cycles, l.cycles_dense,
                        g9(l.row_util), g9(l.col_util), g9(l.util), g9(l.rel_error), l.r_cycles,
                        l.layout);
  }
  write_file(dir + "/results.csv", rc.str());
  write_file(dir + "/layers.csv", lc.str());
  // The per-event energies used, per array size (ADC bits follow the rows), for repricing.
  Json t;
  t["tech"] = tech.name;
  t["adc_fom_fj"] = tech.adc_fom_fj;
  for (int64_t n : c.arrays) {
    const EnergyTable et = tech.table_for(lossless_adc_bits(c, n));
    Json row;
    for (int i = 0; i < kEventCount; ++i)
      row[to_string(static_cast<Event>(i))] = et.pj[static_cast<size_t>(i)];
    t["tables"][std::to_string(n)] = row;
  }
  write_file(dir + "/energy_tables.json", t.dump(2) + "\n");
}

// ---- pin / check -------------------------------------------------------------------------

constexpr double kEnergyRelTol = 1e-9;  // energy: same event counts x same table
constexpr double kErrorAbsTol = 1e-9;   // reconstruction errors (SVD round-off)

int check_pins(const Json& golden, const Json& now) {
  int bad = 0;
  std::map<std::string, Json> by_key;
  for (const auto& p : now)
    by_key[fmt::format("{}/{}/{}", p["workload"].get<std::string>(), p["array"].get<int64_t>(),
                       p["variant"].get<std::string>())] = p;
  for (const auto& g : golden["points"]) {
    const std::string key = fmt::format("{}/{}/{}", g["workload"].get<std::string>(),
                                        g["array"].get<int64_t>(), g["variant"].get<std::string>());
    const auto it = by_key.find(key);
    if (it == by_key.end()) {
      std::cerr << fmt::format("paper_study: pinned point {} not computed\n", key);
      ++bad;
      continue;
    }
    for (const auto& [metric, want] : g.items()) {
      if (metric == "workload" || metric == "array" || metric == "variant") continue;
      if (!it->second.contains(metric)) {
        std::cerr << fmt::format("paper_study: {} {}: missing\n", key, metric);
        ++bad;
        continue;
      }
      const Json& got = it->second[metric];
      bool ok;
      if (want.is_number_integer()) {
        ok = got.is_number_integer() && got.get<int64_t>() == want.get<int64_t>();
      } else {
        const double w = want.get<double>(), x = got.get<double>();
        ok = metric.find("_pj") != std::string::npos
                 ? std::abs(x - w) <= kEnergyRelTol * std::max(std::abs(w), 1.0)
                 : std::abs(x - w) <= kErrorAbsTol;
      }
      if (!ok) {
        std::cerr << fmt::format("paper_study: {} {}: pinned {} now {}\n", key, metric, want.dump(),
                                 got.dump());
        ++bad;
      }
    }
  }
  return bad;
}

int main_impl(int argc, char** argv) {
  CLI::App app{
      "paper study: analytic cycles and energy estimates (accuracy: scripts/paper-accuracy)"};
  std::string config, out_dir, pin_file, check_file;
  int threads = 2;
  bool quiet = false, skip_missing = false;
  app.add_option("--config", config, "study YAML (configs/experiments/paper/study.yaml)")
      ->required();
  app.add_option("-o,--out", out_dir, "write results.csv, layers.csv, energy_tables.json here");
  app.add_option("--pin", pin_file, "write the pinned points' headline numbers to this JSON");
  app.add_option("--check", check_file, "recompute the points pinned in this JSON and compare");
  app.add_option("-j,--threads", threads, "worker threads")->capture_default_str();
  app.add_flag("-q,--quiet", quiet, "no progress on stderr");
  app.add_flag("--skip-missing-weights", skip_missing,
               "exit 77 (a skipped test) when a weights folder is absent");
  CLI11_PARSE(app, argc, argv);

  const auto t0 = std::chrono::steady_clock::now();
  const StudyCfg c = load_study(config);
  const TechSpec tech = load_tech_file(c.tech);
  std::vector<Workload> wls;
  for (const auto& wc : c.workloads) {
    if (skip_missing && !wc.weights.empty() && !std::ifstream(wc.weights + "/manifest.yaml")) {
      std::cerr << fmt::format("paper_study: skipped: weights folder {} is absent\n", wc.weights);
      return 77;
    }
    Workload w;
    w.cfg = wc;
    w.net = load_workload(wc.name);
    w.weights =
        wc.weights.empty() ? synthetic_weights(w.net, c.seed) : load_npy_weights(w.net, wc.weights);
    for (const auto& l : w.net.layers) {
      if (!l.on_arrays()) continue;
      double s = 0;
      for (float x : w.weights.at(l.name).weight.data)
        s += static_cast<double>(x) * static_cast<double>(x);
      w.norm2[l.name] = s;
    }
    wls.push_back(std::move(w));
  }
  const bool pinned_only = !check_file.empty() && out_dir.empty() && pin_file.empty();
  const Outputs o =
      run_study(c, tech, wls, pinned_only ? c.pin : std::vector<std::string>{}, threads, !quiet);
  if (!out_dir.empty()) write_outputs(c, tech, o, out_dir);
  Json pinned = Json::array();
  for (const auto& p : o.points)
    if (std::find(c.pin.begin(), c.pin.end(), p.v->label) != c.pin.end())
      pinned.push_back(point_json(c, tech, p));
  if (!pin_file.empty()) {
    Json g;
    g["generated_by"] = "scripts/paper-study --pin (study/paper_study.cpp); do not edit by hand";
    g["config"] = "configs/experiments/paper/study.yaml";
    g["tolerance"] = {{"cycles", "exact"},
                      {"energy_pj_relative", kEnergyRelTol},
                      {"errors_absolute", kErrorAbsTol}};
    g["points"] = pinned;
    write_file(pin_file, g.dump(2) + "\n");
  }
  int rc = 0;
  if (!check_file.empty()) {
    std::ifstream f(check_file);
    if (!f) throw ConfigError(check_file, 0, "", "cannot read");
    const Json golden = Json::parse(f);
    const int bad = check_pins(golden, pinned);
    std::cerr << fmt::format("paper_study: {} pinned points checked, {} differences\n",
                             golden["points"].size(), bad);
    rc = bad == 0 ? 0 : 1;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!quiet) std::cerr << fmt::format("paper_study: {} points, {:.1f} s\n", o.points.size(), secs);
  return rc;
}

}  // namespace
}  // namespace imcsim::paper

int main(int argc, char** argv) {
  try {
    return imcsim::paper::main_impl(argc, argv);
  } catch (const imcsim::Error& e) {
    std::cerr << "paper_study: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "paper_study: error: " << e.what() << "\n";
    return 3;
  }
}
