// A contended configuration (own process): a narrow input buffer and one ADC per 32
// columns. The values stay exact; the engine shows the stalls with their causes and takes
// longer than the uncontended timing model, by the stalls of the input path.
#include <gtest/gtest.h>

#include <systemc>

#include "engine_test_util.hpp"

using namespace imcsim;

namespace {

EngineConfig contended_config() {
  EngineConfig cfg = test::make_config(32, 32, 2, 6, 5, 2, 0, 32, 8, false);
  cfg.datapath.adc_bits = cfg.datapath.lossless_adc_bits();
  cfg.timing.t_read = 3;
  cfg.timing.t_adc = 1;
  cfg.timing.input_bits_per_clock = 8;
  cfg.timing.output_bits_per_clock = 1 << 20;
  return cfg;
}

// Elaborated on first use: ctest runs each case in its own process (gtest_discover_tests).
Engine& engine() {
  static Engine e(contended_config());
  return e;
}

TEST(EngineContended, StallsAreCountedWithTheirCause) {
  const EngineConfig& cfg = engine().config();
  ConvShape s = ConvShape::make("c", 10, 10, 3, 3, 8, 12, 1, 1, Convention::Framework);
  const LayerMapping m = map_layer(find_mapper("sdk"), s, test::geometry_of(cfg));
  const TileSchedule sched = make_schedule(m, test::geometry_of(cfg), cfg.num_arrays);
  SeededStream rng(3);
  const auto in = test::random_codes(rng, 8 * 10 * 10, cfg.datapath.input_bits);
  const auto w = test::random_weights(rng, 12 * 8 * 9, cfg.datapath.weight_bits);
  std::vector<int64_t> out;
  const LayerRun run = engine().run_array_layer(sched, in, w, out, false);
  EXPECT_EQ(out, test::conv_oracle(s, in, w));
  EXPECT_EQ(run.computing_cycles, m.cycles);
  // One ADC per 32 columns: conversions outlast the 4-clock read, the crossbar waits.
  ASSERT_TRUE(run.stalls.count("adc_busy"));
  EXPECT_GT(run.stalls.at("adc_busy"), 0);
  // 8 bits per clock for windows of up to 32 x 5-bit pixels, shared by the arrays.
  ASSERT_TRUE(run.stalls.count("input_buffer_bandwidth"));
  EXPECT_GT(run.stalls.at("input_buffer_bandwidth"), 0);
  ASSERT_TRUE(run.stalls.count("input_fetch"));
  EXPECT_GT(run.stalls.at("input_fetch"), 0);
  // The analytic model includes the ADC bound but not the starved input path.
  EXPECT_GT(run.clock_cycles, analytic_clocks(sched, cost_params(cfg), false));
}

}  // namespace

int sc_main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
