// The baseline the cycle-accurate engine is timed against (scripts/bench-imagenet): the
// bit-plane work of a whole network as bare float32 GEMMs on OpenBLAS. For every conv/fc
// layer, each output position, input bit (DAC phase, 1-bit DACs) and weight slice (a cell
// of cell_bits) is one binary-input x small-integer-weight dot product over the layer's
// IC/groups x K_h x K_w rows -- the work the engine's crossbars do -- so the layer is one
// GEMM of (phases * positions) x rows by rows x (slices * OC) per group, exact in float32
// (sums < 2^24). Only the GEMM calls are timed (operands built beforehand, best of
// --repeat runs), so the baseline is as fast as the library makes it.
//
//   bench_bitplane_gemm --workload resnet18 [--weight-bits 8 --cell-bits 2 --input-bits 8]
//                       [--dac-bits 1] [--repeat 3]
// prints one line: "gemm <workload>: <seconds> s, <G cell-ops>, <G/s>, <threads> threads".
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "mappers/layer_mapping.hpp"
#include "workloads/loader.hpp"

using namespace imcsim;

namespace {

struct Gemm {
  int64_t m = 0, n = 0, k = 0;
  std::vector<float> a, b, c;
};

int64_t flag(int argc, char** argv, const std::string& name, int64_t fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name) return std::strtoll(argv[i + 1], nullptr, 10);
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  std::string workload = "resnet18";
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--workload") workload = argv[i + 1];
  const int64_t weight_bits = flag(argc, argv, "--weight-bits", 8);
  const int64_t cell_bits = flag(argc, argv, "--cell-bits", 2);
  const int64_t input_bits = flag(argc, argv, "--input-bits", 8);
  const int64_t dac_bits = flag(argc, argv, "--dac-bits", 1);
  const int64_t repeat = std::max<int64_t>(1, flag(argc, argv, "--repeat", 3));
  if (weight_bits < 1 || cell_bits < 1 || input_bits < 1 || dac_bits < 1) {
    std::fprintf(stderr, "bench_bitplane_gemm: bit widths must be >= 1\n");
    return 2;
  }
  const int64_t slices = (weight_bits + cell_bits - 1) / cell_bits;
  const int64_t phases = (input_bits + dac_bits - 1) / dac_bits;

  Network net;
  try {
    net = load_workload(workload);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_bitplane_gemm: %s\n", e.what());
    return 2;
  }
  // Operands: input bits 0/1 (a DAC phase drives one bit per row), cells 0 .. 2^cell_bits - 1.
  std::mt19937_64 rng(1);
  std::vector<Gemm> gemms;
  double cell_ops = 0;
  for (const Layer& l : net.layers) {
    if (!l.on_arrays()) continue;
    const ConvShape s = conv_shape(l, Convention::Framework);
    for (int64_t g = 0; g < s.groups; ++g) {
      Gemm x;
      x.m = phases * s.o_h * s.o_w;
      x.k = s.ic * s.k_h * s.k_w;
      x.n = slices * s.oc;
      x.a.resize(static_cast<size_t>(x.m * x.k));
      x.b.resize(static_cast<size_t>(x.k * x.n));
      x.c.assign(static_cast<size_t>(x.m * x.n), 0.0f);
      for (auto& v : x.a) v = static_cast<float>(rng() & 1u);
      for (auto& v : x.b) v = static_cast<float>(rng() & ((uint64_t{1} << cell_bits) - 1));
      cell_ops += static_cast<double>(x.m) * static_cast<double>(x.k) * static_cast<double>(x.n);
      gemms.push_back(std::move(x));
    }
  }
  double best = 1e300, checksum = 0;
  for (int64_t r = 0; r < repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (Gemm& x : gemms)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(x.m),
                  static_cast<int>(x.n), static_cast<int>(x.k), 1.0f, x.a.data(),
                  static_cast<int>(x.k), x.b.data(), static_cast<int>(x.n), 0.0f, x.c.data(),
                  static_cast<int>(x.n));
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  for (const Gemm& x : gemms) checksum += static_cast<double>(x.c[x.c.size() / 2]);
  std::printf("gemm %s: %.3f s, %.2f G cell-ops, %.2f G/s, %d threads (checksum %.0f)\n",
              workload.c_str(), best, cell_ops / 1e9, cell_ops / best / 1e9,
              openblas_get_num_threads(), checksum);
  return 0;
}
