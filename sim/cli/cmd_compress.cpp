// imcsim compress: compress a workload (low-rank, group low-rank, pattern pruning), map
// every piece and print per-layer ranks, parameters, reconstruction error and cycles next
// to the dense layer, without an experiment file (REFERENCE §6-§8, §13).
#include <fmt/format.h>

#include <memory>
#include <regex>

#include "mappers/compress/compress.hpp"
#include "mappers/compress/expand.hpp"
#include "sim/cli/cli.hpp"
#include "sim/report/compress_report.hpp"
#include "workloads/loader.hpp"
#include "workloads/npy_weights.hpp"
#include "workloads/onnx/onnx_export.hpp"
#include "workloads/onnx/onnx_import.hpp"

namespace imcsim::cli {

namespace {

struct CompressOptions {
  std::string workload;
  std::string model;  // an ONNX model instead of --workload (+ --weights)
  std::string weights;
  int64_t seed = 1;
  std::string method = "lowrank";
  int64_t rank = 0;
  double rank_ratio = 0;
  double energy = 0;
  int64_t groups = 0;
  // The defaults of compress::CompressionSpec (one place; the help prints them).
  std::string group_axis = compress::to_string(compress::CompressionSpec{}.axis);
  double sigma_split = compress::CompressionSpec{}.sigma_split;
  std::string l_placement = compress::to_string(compress::CompressionSpec{}.l_placement);
  std::string mapper = compress::CompressionSpec{}.mapper;
  std::string array = "128x128";
  std::string convention = "framework";
  std::string patterns = compress::CompressionSpec{}.prune.patterns.name;
  std::string pattern_scope = "block";
  bool include_first = false, include_last = false;
  bool keep_1x1 = false;
  std::string format = "table";
  std::string output;
  std::string export_onnx;
};

int cmd_compress(const CompressOptions& o) {
  using namespace compress;
  static const std::regex re(R"(^(\d+)[xX](\d+)$)");
  std::smatch am;
  if (!std::regex_match(o.array, am, re))
    throw UsageError("", 0, "--array",
                     fmt::format("expected ROWSxCOLS (e.g. 128x128), got \"{}\"", o.array));
  const ArrayGeometry geom = ArrayGeometry::ideal(parse_count("--array", am[1], 1, 65536),
                                                  parse_count("--array", am[2], 1, 65536));
  const int rank_flags = (o.rank > 0) + (o.rank_ratio > 0) + (o.energy > 0);
  if (rank_flags > 1)
    throw UsageError("", 0, "--rank", "give at most one of --rank, --rank-ratio, --energy");

  CompressionSpec spec;
  spec.method = method_from_string(o.method);
  if (o.rank > 0) {
    spec.rank.rule = RankRule::Fixed;
    spec.rank.rank = o.rank;
  } else if (o.energy > 0) {
    spec.rank.rule = RankRule::Energy;
    spec.rank.energy = o.energy;
  } else if (o.rank_ratio > 0) {
    spec.rank.ratio = o.rank_ratio;
  }
  spec.groups =
      spec.method == Method::GroupLowRank ? (o.groups > 0 ? o.groups : kDefaultGroups) : 1;
  if (o.groups > 0 && spec.method != Method::GroupLowRank)
    throw UsageError("", 0, "--groups", "only with --method group-lowrank");
  spec.axis = o.group_axis == "out" ? GroupAxis::Out : GroupAxis::In;
  spec.sigma_split = o.sigma_split;
  spec.l_placement = l_placement_from_string(o.l_placement);
  spec.mapper = o.mapper;
  spec.exclude_first = !o.include_first;
  spec.exclude_last = !o.include_last;
  spec.prune.scope = o.pattern_scope == "kernel" ? PatternScope::Kernel : PatternScope::Block;
  try {
    if (o.patterns.find('/') == std::string::npos && o.patterns.find(',') == std::string::npos &&
        o.patterns.size() != 9) {
      spec.prune.patterns = builtin_patterns(o.patterns);
    } else {
      spec.prune.patterns = PatternSet{"custom", 3, {}};
      std::stringstream ss(o.patterns);
      std::string part;
      while (std::getline(ss, part, ','))
        spec.prune.patterns.masks.push_back(parse_pattern(part, 3));
    }
  } catch (const MappingError& e) {
    throw UsageError("", 0, "--patterns", e.message());
  }

  if (o.workload.empty() == o.model.empty())
    throw UsageError("", 0, "compress", "give either --workload NAME|FILE or --model M.onnx");
  if (!o.model.empty() && !o.weights.empty())
    throw UsageError("", 0, "--weights", "an ONNX model carries its own weights");
  Network net;
  WeightSet weights;
  if (!o.model.empty()) {
    onnx_io::OnnxModel m = onnx_io::import_onnx(o.model);
    net = std::move(m.net);
    weights = std::move(m.weights);
  } else {
    net = load_workload(o.workload);
    weights = o.weights.empty() ? synthetic_weights(net, static_cast<uint64_t>(o.seed))
                                : load_npy_weights(net, o.weights);
  }
  if (o.keep_1x1)
    for (const auto& l : net.layers)
      if (l.type == LayerType::Conv && l.k_h == 1 && l.k_w == 1) spec.layers[l.name].skip = true;
  const CompressionResult r =
      compress_network(net, weights, spec, geom,
                       o.convention == "vwsdk" ? Convention::VwSdk : Convention::Framework);
  if (!o.export_onnx.empty()) {
    // The compressed network as ONNX: R and L as two Conv nodes (low-rank), or the pruned
    // weights in the original layers.
    if (spec.method == Method::Prune) {
      WeightSet pruned = weights;
      for (const auto& cl : r.layers)
        if (cl.pruned_weight) pruned.layers.at(cl.layer).weight = *cl.pruned_weight;
      onnx_io::write_onnx(o.export_onnx, net, pruned);
    } else {
      const ExpandedNetwork ex = expand_lowrank(net, weights, r);
      onnx_io::write_onnx(o.export_onnx, ex.net, ex.weights);
    }
  }
  if (o.format == "csv") {
    emit(compression_csv(r), o.output);
  } else if (o.format == "json") {
    emit(compression_json(r).dump(2) + "\n", o.output);
  } else {
    emit(compression_table(r), o.output);
  }
  return 0;
}

}  // namespace

void register_compress_command(CLI::App& app, CommandContext& ctx) {
  auto o = std::make_shared<CompressOptions>();
  auto* c = app.add_subcommand("compress",
                               "low-rank / group low-rank / pattern-pruning compression of a "
                               "workload, mapped and costed per layer");
  c->add_option("--workload", o->workload, "built-in workload name or workload .yaml path");
  c->add_option("--model", o->model,
                "an ONNX model (network and trained weights) instead of --workload");
  c->add_option("--weights", o->weights,
                "folder of .npy weights (default: seeded synthetic weights)");
  c->add_option("--seed", o->seed, "seed of the synthetic weights")->capture_default_str();
  c->add_option("--method", o->method, "compression method")
      ->check(CLI::IsMember(compress::method_names()))
      ->capture_default_str();
  c->add_option("--rank", o->rank, "fixed rank per group")->check(CLI::Range(1, 1 << 20));
  c->add_option("--rank-ratio", o->rank_ratio,
                fmt::format("rank = ceil(ratio * min(OC, IC K^2)) (default {})",
                            compress::CompressionSpec{}.rank.ratio))
      ->check(CLI::Range(1e-9, 1.0));
  c->add_option("--energy", o->energy, "smallest rank keeping this fraction of ||W||_F^2")
      ->check(CLI::Range(1e-9, 1.0));
  c->add_option("--groups", o->groups,
                fmt::format("groups of group-lowrank (default {})", compress::kDefaultGroups))
      ->check(CLI::Range(2, 1 << 16));
  c->add_option("--group-axis", o->group_axis, "split input or output channels")
      ->check(CLI::IsMember({"in", "out"}))
      ->capture_default_str();
  c->add_option("--sigma-split", o->sigma_split, "a in L = U S^a, R = S^(1-a) V^T")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  c->add_option("--l-placement", o->l_placement,
                "L as I_N(x)L in idle rows/columns, its own im2col tile, or the cheaper")
      ->check(CLI::IsMember(compress::l_placement_names()))
      ->capture_default_str();
  c->add_option("--mapper", o->mapper, "base mapper of R and of the dense baseline")
      ->check(CLI::IsMember(mapper_names()))
      ->capture_default_str();
  c->add_option("--array", o->array, "array size ROWSxCOLS (one weight per column)")
      ->capture_default_str();
  c->add_option("--convention", o->convention, "shape convention (REFERENCE §1)")
      ->check(CLI::IsMember({"framework", "vwsdk"}))
      ->capture_default_str();
  c->add_option("--patterns", o->patterns,
                "pat4, pat6, pat8, or masks like 110/110/000,011/011/000")
      ->capture_default_str();
  c->add_option("--pattern-scope", o->pattern_scope,
                "one pattern per block (input channel x column tile) or per kernel")
      ->check(CLI::IsMember({"block", "kernel"}))
      ->capture_default_str();
  c->add_flag("--include-first", o->include_first, "compress the first layer too");
  c->add_flag("--include-last", o->include_last, "compress the last layer too");
  c->add_flag("--keep-1x1", o->keep_1x1,
              "1x1 convolutions (projection shortcuts) stay dense, as in the paper study");
  c->add_option("--format", o->format, "output format")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
  c->add_option("-o,--output", o->output, "write to this file instead of standard output");
  c->add_option("--export", o->export_onnx,
                "also write the compressed network as ONNX (R and L as two Conv nodes)");
  c->callback([o, &ctx] { ctx.exit_code = cmd_compress(*o); });
}

}  // namespace imcsim::cli
