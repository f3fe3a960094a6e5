// Reference inference throughput (workloads/reference.hpp): the float executor (im2col +
// Eigen GEMM in double) and the integer executor (per-channel 8-bit weights, 8-bit
// activation codes, int64 nested-loop accumulation) on whole networks with seeded synthetic
// weights and a seeded input. Reported (images/s), never asserted; scripts/bench tracks it.
#include <benchmark/benchmark.h>

#include <random>

#include "workloads/loader.hpp"
#include "workloads/reference.hpp"
#include "workloads/weights.hpp"

using namespace imcsim;

namespace {

ref::FloatTensor seeded_input(const Network& net) {
  ref::FloatTensor x(net.input.c, net.input.h, net.input.w);
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (auto& v : x.data) v = u(rng);
  return x;
}

void float_inference(benchmark::State& state, const std::string& workload) {
  const Network net = load_workload(workload);
  const WeightSet weights = synthetic_weights(net, 1);
  const ref::FloatTensor x = seeded_input(net);
  // NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores)
  for (auto _ : state) benchmark::DoNotOptimize(ref::run_float(net, weights, x).output().data);
  state.SetItemsProcessed(state.iterations());  // images
}

void int_inference(benchmark::State& state, const std::string& workload) {
  const Network net = load_workload(workload);
  const WeightSet weights = synthetic_weights(net, 1);
  const ref::FloatTensor x = seeded_input(net);
  const ref::IntOptions options;  // 8-bit weights and activations
  const auto qweights = ref::quantize_weights(net, weights, options.weight_bits);
  for (auto _ : state)  // NOLINT(clang-analyzer-deadcode.DeadStores)
    benchmark::DoNotOptimize(ref::run_int(net, qweights, x, options).output().data);
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK_CAPTURE(float_inference, resnet20, std::string("resnet20"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(float_inference, wrn16_4, std::string("wrn16_4"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(int_inference, resnet20, std::string("resnet20"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(int_inference, wrn16_4, std::string("wrn16_4"))->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
