// The analytic cost model's event counts (models/cost.hpp, analytic_events) against the
// cycle-accurate engine: for dense layouts (im2col, SDK, VW-SDK) on bit-sliced arrays the
// counts must be equal event by event (programming and digital units excluded), so the
// paper study's energy estimates of compressed layers rest on the engine's bookkeeping.
// SystemC elaborates once per process: one engine, several layers and mappers.
#include <gtest/gtest.h>

#include <systemc>

#include "mappers/mapper.hpp"
#include "mappers/schedule.hpp"
#include "models/engine.hpp"
#include "tests/sim/engine_test_util.hpp"

namespace imcsim {
namespace {

EngineConfig g_cfg;

class PaperEvents : public ::testing::TestWithParam<std::string> {};

TEST_P(PaperEvents, ScheduleEventsEqualEngineEvents) {
  static Engine engine(g_cfg);
  const ArrayGeometry geom = test::geometry_of(g_cfg);
  const CostParams ep = cost_params(g_cfg);
  // CIFAR-like layers: stride 1 and 2, 3x3 and 1x1, channel counts that tile unevenly.
  const std::vector<ConvShape> shapes = {
      ConvShape::make("a", 16, 16, 3, 3, 16, 16, 1, 1, Convention::Framework),
      ConvShape::make("b", 16, 16, 3, 3, 16, 40, 2, 1, Convention::Framework),
      ConvShape::make("c", 8, 8, 3, 3, 24, 24, 1, 1, Convention::Framework),
      ConvShape::make("d", 8, 8, 1, 1, 20, 36, 2, 0, Convention::Framework)};
  int checked = 0;
  for (const ConvShape& s : shapes) {
    const LayerMapping m = map_layer(find_mapper(GetParam()), s, geom);
    const TileSchedule sched = make_schedule(m, geom, g_cfg.num_arrays);
    std::vector<int64_t> in, out;
    std::vector<int32_t> wq;
    const LayerRun run = engine.run_array_layer(sched, in, wq, out, false);
    const EventCounts est = analytic_events(sched, ep);
    for (int i = 0; i < kEventCount; ++i) {
      const Event e = static_cast<Event>(i);
      if (e == Event::CellWrite || e == Event::DigitalOp) continue;
      EXPECT_EQ(est[static_cast<size_t>(i)], run.events[static_cast<size_t>(i)])
          << s.layer << " " << m.method << " " << to_string(e);
    }
    // All tiles selected explicitly = no selection; no tile selected = no events.
    const EventCounts all = analytic_events(
        sched, ep, std::vector<char>(static_cast<size_t>(m.row_tiles * m.col_tiles), 1));
    EXPECT_EQ(all, est);
    const EventCounts none = analytic_events(
        sched, ep, std::vector<char>(static_cast<size_t>(m.row_tiles * m.col_tiles), 0));
    EXPECT_EQ(none, EventCounts{});
    EXPECT_GT(est[static_cast<size_t>(Event::AdcConversion)], 0);
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

INSTANTIATE_TEST_SUITE_P(Mappers, PaperEvents, ::testing::Values("im2col", "sdk", "vwsdk"));

}  // namespace
}  // namespace imcsim

int sc_main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // 64x64 arrays, 8-bit weights on 2-bit cells (4 columns per weight, offset encoding), 8-bit
  // inputs through 1-bit DACs, one ADC per 8 columns: the study's energy arrays, smaller.
  imcsim::g_cfg = imcsim::test::make_config(64, 64, 2, 8, 8, 1, 8, 8, 64, false);
  imcsim::g_cfg.functional = false;  // timing and events only
  return RUN_ALL_TESTS();
}
