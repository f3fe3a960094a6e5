// Compression throughput (issue 5 goal: SVD + mapping of every conv of WRN-16-4 for 8 ranks
// x 3 methods x 4 array sizes in <= 2 s). Reported, never asserted (STYLE.md "Tests").
#include <benchmark/benchmark.h>

#include "mappers/compress/compress.hpp"
#include "workloads/loader.hpp"

using namespace imcsim;
using namespace imcsim::compress;

namespace {

void run_grid(const Network& net, const WeightSet& w, benchmark::State& state) {
  int64_t layers = 0;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    for (Method m : {Method::LowRank, Method::GroupLowRank, Method::Prune})
      for (int64_t side : {64, 128, 256, 512})
        for (int64_t rank : {1, 2, 4, 8, 12, 16, 24, 32}) {
          CompressionSpec spec;
          spec.method = m;
          spec.rank.rule = RankRule::Fixed;
          spec.rank.rank = rank;
          spec.groups = m == Method::GroupLowRank ? 2 : 1;
          const CompressionResult r = compress_network(
              net, w, spec, ArrayGeometry::ideal(side, side), Convention::Framework);
          benchmark::DoNotOptimize(r.cycles());
          layers += static_cast<int64_t>(r.layers.size());
          if (m == Method::Prune) break;  // pruning does not depend on the rank
        }
  }
  state.counters["layers"] =
      benchmark::Counter(static_cast<double>(layers), benchmark::Counter::kIsRate);
}

void BM_CompressGrid_WRN16_4(benchmark::State& state) {
  const Network net = load_workload("wrn16_4");
  run_grid(net, synthetic_weights(net, 1), state);
}

void BM_CompressGrid_ResNet20(benchmark::State& state) {
  const Network net = load_workload("resnet20");
  run_grid(net, synthetic_weights(net, 1), state);
}

void BM_Svd_ResNet18(benchmark::State& state) {
  const Network net = load_workload("resnet18");
  const WeightSet w = synthetic_weights(net, 1);
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    for (const auto& l : net.layers) {
      if (l.type != LayerType::Conv) continue;
      LowRankOptions o;
      o.rank.rule = RankRule::Energy;
      o.rank.energy = 0.9;
      benchmark::DoNotOptimize(decompose(w.at(l.name).weight, o, l.name).rel_error);
    }
  }
}

}  // namespace

BENCHMARK(BM_CompressGrid_WRN16_4)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CompressGrid_ResNet20)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Svd_ResNet18)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
