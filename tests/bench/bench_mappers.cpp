// Analytic mapping throughput: every on-array layer of the four reference workloads on
// 64, 128, 256 and 512 arrays with each mapper. Reported as layer-mappings per second
// (items_per_second). scripts/bench-mappers compares it with a straightforward Python
// implementation of the same search, measured in the same run.
#include <benchmark/benchmark.h>

#include "mappers/mapper.hpp"
#include "workloads/loader.hpp"

using namespace imcsim;

namespace {

struct Case {
  std::vector<ConvShape> shapes;
  std::vector<ArrayGeometry> arrays;
};

const Case& all_layers(Convention convention) {
  static Case framework, vwsdk;
  Case& c = convention == Convention::VwSdk ? vwsdk : framework;
  if (c.shapes.empty()) {
    for (const char* w : {"resnet20", "wrn16_4", "vgg13", "resnet18"}) {
      const Network n = load_workload(w);
      for (const auto& l : n.layers)
        if (l.on_arrays()) c.shapes.push_back(conv_shape(l, convention));
    }
    for (int64_t size : {64, 128, 256, 512}) c.arrays.push_back(ArrayGeometry::ideal(size, size));
  }
  return c;
}

void run(benchmark::State& state, const std::string& mapper, Convention convention) {
  const Case& c = all_layers(convention);
  const MapperInfo& m = find_mapper(mapper);
  int64_t items = 0;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    for (const auto& a : c.arrays) {
      for (const auto& s : c.shapes) {
        LayerMapping r = m.fn(s, a);
        benchmark::DoNotOptimize(r.cycles);
        ++items;
      }
    }
  }
  state.SetItemsProcessed(items);
  state.counters["layers"] = static_cast<double>(c.shapes.size() * c.arrays.size());
}

}  // namespace

BENCHMARK_CAPTURE(run, im2col, std::string("im2col"), Convention::Framework);
BENCHMARK_CAPTURE(run, sdk, std::string("sdk"), Convention::Framework);
BENCHMARK_CAPTURE(run, vwsdk, std::string("vwsdk"), Convention::Framework);
BENCHMARK_CAPTURE(run, auto, std::string("auto"), Convention::Framework);
BENCHMARK_CAPTURE(run, vwsdk_paper_convention, std::string("vwsdk"), Convention::VwSdk);
BENCHMARK_CAPTURE(run, auto_paper_convention, std::string("auto"), Convention::VwSdk);

BENCHMARK_MAIN();
