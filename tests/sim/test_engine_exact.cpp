// Engine exactness and timing on an uncontended configuration (own process: SystemC
// elaborates once). With a lossless ADC every layer's simulated integer output equals a
// plain nested-loop convolution; computing cycles equal the mapper's; clock cycles equal
// the analytic timing model; no stage stalls.
#include <gtest/gtest.h>

#include <systemc>

#include "engine_test_util.hpp"

using namespace imcsim;

namespace {

// The configuration every case runs on: lossless ADCs, ample buffer bandwidth (no stalls).
EngineConfig exact_config() {
  EngineConfig cfg = test::make_config(32, 32, 2, 6, 5, 2, 0, 2, 4, false);
  cfg.datapath.adc_bits = cfg.datapath.lossless_adc_bits();
  cfg.timing.t_read = 10;
  cfg.timing.t_adc = 1;
  cfg.timing.input_bits_per_clock = 1 << 20;
  cfg.timing.output_bits_per_clock = 1 << 20;
  return cfg;
}

// Elaborated on first use: ctest runs each case in its own process (gtest_discover_tests),
// so every case gets a fresh engine and a failure names its case.
Engine& engine() {
  static Engine e(exact_config());
  return e;
}

struct Case {
  int64_t in, k, ic, oc, stride, pad, groups;
  const char* mapper;
  Convention conv;
};

// How gtest (and so the ctest name of a case) shows a case: its shape and mapper.
void PrintTo(const Case& c, std::ostream* os) {
  *os << "I=" << c.in << " K=" << c.k << " IC=" << c.ic << " OC=" << c.oc << " S=" << c.stride
      << " P=" << c.pad << " G=" << c.groups << " " << c.mapper;
}

void check_layer(const Case& c, uint64_t seed) {
  const EngineConfig& cfg = engine().config();
  ConvShape s = ConvShape::make("L", c.in, c.in, c.k, c.k, c.ic / c.groups, c.oc / c.groups,
                                c.stride, c.pad, c.conv);
  s.groups = c.groups;
  const LayerMapping m = map_layer(find_mapper(c.mapper), s, test::geometry_of(cfg));
  const TileSchedule sched = make_schedule(m, test::geometry_of(cfg), cfg.num_arrays);
  SeededStream rng(seed);
  const auto in = test::random_codes(rng, c.ic * c.in * c.in, cfg.datapath.input_bits);
  const auto w = test::random_weights(rng, c.oc * s.ic * c.k * c.k, cfg.datapath.weight_bits);
  std::vector<int64_t> out;
  const int64_t t0 = engine().now_clocks();
  const LayerRun run = engine().run_array_layer(sched, in, w, out, false);
  EXPECT_EQ(engine().now_clocks() - t0, run.clock_cycles);
  EXPECT_EQ(out, test::conv_oracle(s, in, w)) << c.mapper << " method " << m.method;
  EXPECT_EQ(run.computing_cycles, m.cycles);
  EXPECT_EQ(run.clock_cycles, analytic_clocks(sched, cost_params(cfg), false))
      << c.mapper << " " << m.method << " rounds " << sched.rounds;
  for (const auto& [cause, clocks] : run.stalls) EXPECT_EQ(clocks, 0) << cause;
  // Event counts follow from the schedule.
  const int64_t phases = cfg.datapath.phases();
  int64_t rows = 0, phys = 0;
  for (const auto& t : sched.tiles) {
    rows += static_cast<int64_t>(t.rows.size());
    phys += static_cast<int64_t>(t.cols.size()) * cfg.datapath.cols_per_weight();
  }
  EXPECT_EQ(run.events[static_cast<size_t>(Event::DacConversion)],
            rows * phases * sched.positions());
  EXPECT_EQ(run.events[static_cast<size_t>(Event::AdcConversion)],
            phys * phases * sched.positions());
}

// One process per case (ctest): the name gives the shape, e.g. I8_K3_IC4_OC6_S1_P1_G1_vwsdk.
class EngineExactLayer : public ::testing::TestWithParam<Case> {};

TEST_P(EngineExactLayer, MatchesThePlainConvolution) {
  const Case& c = GetParam();
  // A seed per case from its shape, so a case's numbers do not depend on which others run.
  const uint64_t seed = static_cast<uint64_t>(c.in * 1000003 + c.k * 10007 + c.ic * 101 + c.oc) ^
                        static_cast<uint64_t>(c.stride * 31 + c.pad * 7 + c.groups);
  check_layer(c, seed);
}

INSTANTIATE_TEST_SUITE_P(
    Layers, EngineExactLayer,
    ::testing::Values(Case{8, 3, 4, 6, 1, 1, 1, "im2col", Convention::Framework},
                      Case{8, 3, 4, 6, 1, 1, 1, "sdk", Convention::Framework},
                      Case{8, 3, 4, 6, 1, 1, 1, "vwsdk", Convention::Framework},
                      Case{9, 3, 8, 8, 2, 1, 1, "vwsdk", Convention::Framework},
                      Case{9, 3, 8, 8, 2, 1, 1, "sdk", Convention::Framework},
                      Case{10, 3, 16, 20, 1, 0, 1, "auto", Convention::VwSdk},
                      Case{7, 1, 12, 16, 2, 0, 1, "vwsdk", Convention::Framework},
                      Case{6, 3, 8, 8, 1, 1, 2, "vwsdk", Convention::Framework},
                      Case{12, 5, 3, 4, 1, 2, 1, "vwsdk", Convention::Framework},
                      Case{1, 1, 70, 10, 1, 0, 1, "im2col", Convention::Framework},  // an fc layer
                      // several row/col tiles
                      Case{8, 3, 24, 40, 1, 1, 1, "im2col", Convention::Framework}),
    [](const ::testing::TestParamInfo<Case>& param) {
      const Case& c = param.param;
      return "I" + std::to_string(c.in) + "_K" + std::to_string(c.k) + "_IC" +
             std::to_string(c.ic) + "_OC" + std::to_string(c.oc) + "_S" + std::to_string(c.stride) +
             "_P" + std::to_string(c.pad) + "_G" + std::to_string(c.groups) + "_" + c.mapper +
             (c.conv == Convention::VwSdk ? "_vwsdkconv" : "");
    });

TEST(EngineExact, MoreTilesThanArraysReprogramsInRounds) {
  // 3x3x40 -> 40 on 32x32 arrays with 4 arrays: many tiles, several rounds.
  const EngineConfig& cfg = engine().config();
  const Case c{6, 3, 40, 40, 1, 1, 1, "im2col", Convention::Framework};
  ConvShape s = ConvShape::make("big", c.in, c.in, c.k, c.k, c.ic, c.oc, 1, 1, c.conv);
  const LayerMapping m = map_layer(find_mapper(c.mapper), s, test::geometry_of(cfg));
  const TileSchedule sched = make_schedule(m, test::geometry_of(cfg), cfg.num_arrays);
  ASSERT_GT(sched.rounds, 1);
  SeededStream rng(99);
  const auto in = test::random_codes(rng, c.ic * c.in * c.in, cfg.datapath.input_bits);
  const auto w = test::random_weights(rng, c.oc * c.ic * 9, cfg.datapath.weight_bits);
  std::vector<int64_t> out;
  const LayerRun run = engine().run_array_layer(sched, in, w, out, false);
  EXPECT_EQ(out, test::conv_oracle(s, in, w));
  EXPECT_GT(run.programming_clocks, 0);
  EXPECT_GT(run.events[static_cast<size_t>(Event::CellWrite)], 0);
  EXPECT_EQ(run.clock_cycles, analytic_clocks(sched, cost_params(cfg), false));
}

TEST(EngineExact, SignedInputsThroughAnOffset) {
  // Centered codes with a zero point (GELU outputs, a low-rank R factor's outputs): codes
  // in [-zp, 2^b - 1 - zp], driven as x + zp with a digital correction; padding stays exact.
  // Zero points at the bottom, the middle and the top of the code range.
  const EngineConfig& cfg = engine().config();
  for (const char* mapper : {"im2col", "sdk", "vwsdk"}) {
    ConvShape s = ConvShape::make("signed", 7, 7, 3, 3, 6, 5, 1, 1, Convention::Framework);
    const LayerMapping m = map_layer(find_mapper(mapper), s, test::geometry_of(cfg));
    const TileSchedule sched = make_schedule(m, test::geometry_of(cfg), cfg.num_arrays);
    SeededStream rng(21);
    const int64_t top = (int64_t{1} << cfg.datapath.input_bits) - 1;
    for (int64_t zp : {int64_t{0}, int64_t{1}, top / 2, top}) {
      std::vector<int64_t> in(6 * 49);
      for (auto& v : in)
        v = static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(top + 1)) - zp;
      const auto w = test::random_weights(rng, 5 * 6 * 9, cfg.datapath.weight_bits);
      std::vector<int64_t> out;
      engine().run_array_layer(sched, in, w, out, false, zp);
      EXPECT_EQ(out, test::conv_oracle(s, in, w)) << mapper << " zero point " << zp;
    }
  }
  // Odd-grid weights (2^b levels: q odd, |q| <= 2^b - 1, stored as (q + 2^b - 1) / 2) are
  // exact too, mixed per output channel with symmetric ones.
  for (const char* mapper : {"im2col", "vwsdk"}) {
    ConvShape s = ConvShape::make("odd", 6, 6, 3, 3, 4, 6, 1, 1, Convention::Framework);
    const LayerMapping m = map_layer(find_mapper(mapper), s, test::geometry_of(cfg));
    const TileSchedule sched = make_schedule(m, test::geometry_of(cfg), cfg.num_arrays);
    SeededStream rng(33);
    const int64_t top = (int64_t{1} << cfg.datapath.input_bits) - 1;
    const int64_t odd_top = (int64_t{1} << cfg.datapath.weight_bits) - 1;
    std::vector<int64_t> in(4 * 36);
    for (auto& v : in)
      v = static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(top + 1)) - 3;
    auto w = test::random_weights(rng, 6 * 4 * 9, cfg.datapath.weight_bits);
    std::vector<uint8_t> odd(6, 0);
    for (int64_t oc = 0; oc < 6; oc += 2) {
      odd[static_cast<size_t>(oc)] = 1;
      for (int64_t k = 0; k < 36; ++k)
        w[static_cast<size_t>(oc * 36 + k)] = static_cast<int32_t>(
            2 * static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(odd_top + 1)) -
            odd_top);
    }
    std::vector<int64_t> out;
    engine().run_array_layer(sched, in, w, out, false, 3, odd);
    EXPECT_EQ(out, test::conv_oracle(s, in, w)) << mapper;
  }
}

}  // namespace

int sc_main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
