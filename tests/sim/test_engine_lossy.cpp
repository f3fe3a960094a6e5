// Fewer ADC bits than the lossless bound (own process), differential encoding: the
// simulated outputs deviate from the plain convolution, each by at most the worst case of
// one LSB per conversion, scaled by its phase and slice shifts, over every conversion that
// contributes to the output (row tiles x polarities x phases x slices).
#include <gtest/gtest.h>

#include <cmath>
#include <systemc>

#include "engine_test_util.hpp"

using namespace imcsim;

namespace {

EngineConfig lossy_config() {
  // 64 rows x 3 x 1 -> lossless 8 bits; use 5.
  EngineConfig cfg = test::make_config(64, 64, 2, 6, 6, 1, 5, 4, 16, true);
  cfg.timing.input_bits_per_clock = 1 << 20;
  return cfg;
}

// Elaborated on first use: ctest runs each case in its own process (gtest_discover_tests).
Engine& engine() {
  static Engine e(lossy_config());
  return e;
}

TEST(EngineLossy, ErrorIsNonzeroAndBounded) {
  const EngineConfig& cfg = engine().config();
  ASSERT_LT(cfg.datapath.adc_bits, cfg.datapath.lossless_adc_bits());
  ConvShape s = ConvShape::make("c", 8, 8, 3, 3, 16, 8, 1, 1, Convention::Framework);
  const LayerMapping m = map_layer(find_mapper("vwsdk"), s, test::geometry_of(cfg));
  const TileSchedule sched = make_schedule(m, test::geometry_of(cfg), cfg.num_arrays);
  SeededStream rng(8);
  const auto in = test::random_codes(rng, 16 * 64, cfg.datapath.input_bits);
  const auto w = test::random_weights(rng, 8 * 16 * 9, cfg.datapath.weight_bits);
  std::vector<int64_t> out;
  engine().run_array_layer(sched, in, w, out, false);
  const auto want = test::conv_oracle(s, in, w);
  const DatapathParams& p = cfg.datapath;
  int64_t per_tile = 0;
  for (int64_t ph = 0; ph < p.phases(); ++ph)
    for (int64_t k = 0; k < p.slices(); ++k)
      per_tile += (int64_t{1} << p.lsb_shift()) << (ph * p.dac_bits + k * p.cell_bits);
  const int64_t bound = per_tile * p.polarities() * m.row_tiles;
  int64_t differing = 0, worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    differing += out[i] != want[i] ? 1 : 0;
    worst = std::max<int64_t>(worst, std::llabs(out[i] - want[i]));
  }
  EXPECT_GT(differing, 0);
  EXPECT_LE(worst, bound);
}

}  // namespace

int sc_main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
