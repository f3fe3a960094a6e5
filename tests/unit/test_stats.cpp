// The engine's statistics tree (models/stats.hpp): snapshots of blocks, sums of trees by
// position and name, and the event counts and stalls read off a tree.
#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>

#include "models/stats.hpp"

namespace imcsim {
namespace {

StatNode array_tree(const std::string& name, int64_t conversions, int64_t adc_stall) {
  CrossbarStats x;
  x.cell_reads = 10;
  x.adc_stall = adc_stall;
  AdcBankStats adc;
  adc.conversions = conversions;
  StatNode a;
  a.name = name;
  a.children = {snapshot("crossbar", x), snapshot("adc_bank", adc)};
  return a;
}

StatNode chip_with(std::vector<StatNode> arrays) {
  StatNode chip, group;
  chip.name = "chip";
  group.name = "arrays";
  group.children = std::move(arrays);
  chip.children.push_back(std::move(group));
  return chip;
}

TEST(Stats, SnapshotNamesEveryCounterInVisitOrderAndResetZeroes) {
  RouterStats r;
  r.pixels = 7;
  r.requant_stall = 3;
  const StatNode n = snapshot("router", r);
  ASSERT_EQ(n.values.size(), 3u);
  EXPECT_EQ(n.value("pixels")->value, 7);
  EXPECT_EQ(n.value("requantization_stall")->value, 3);
  EXPECT_STREQ(n.value("requantization_stall")->def.stall, "requantization");
  EXPECT_EQ(n.value("nothing"), nullptr);
  reset(r);
  EXPECT_TRUE(snapshot("router", r).all_zero());
  EXPECT_FALSE(n.all_zero());
}

TEST(Stats, CounterNamesAreUniquePerBlockAndEveryCounterHasAUnit) {
  auto check = [](const StatNode& n) {
    std::set<std::string> names;
    for (const StatValue& v : n.values) {
      EXPECT_TRUE(names.insert(v.def.name).second) << n.name << "." << v.def.name;
      EXPECT_NE(std::string(v.def.unit), "") << n.name << "." << v.def.name;
      EXPECT_NE(std::string(v.def.description), "") << n.name << "." << v.def.name;
      // A counter is an energy event or a stall or neither, never both.
      EXPECT_FALSE(v.def.event != Event::kCount && v.def.stall) << v.def.name;
    }
  };
  InputBufferStats ib;
  OutputBufferStats ob;
  ProgrammerStats pr;
  DigitalStats dg;
  RouterStats ro;
  DacStats da;
  CrossbarStats cb;
  AdcBankStats ad;
  ShiftAddStats sa;
  AccumulatorStats ac;
  check(snapshot("input_buffer", ib));
  check(snapshot("output_buffer", ob));
  check(snapshot("programmer", pr));
  check(snapshot("digital", dg));
  check(snapshot("router", ro));
  check(snapshot("dac", da));
  check(snapshot("crossbar", cb));
  check(snapshot("adc_bank", ad));
  check(snapshot("shift_add", sa));
  check(snapshot("accumulator", ac));
}

TEST(Stats, AddSumsValuesByPositionAndChildrenByName) {
  StatNode run = chip_with({array_tree("array0", 5, 2)});
  run.add(chip_with({array_tree("array3", 1, 0), array_tree("array0", 4, 1)}));
  const StatNode* arrays = run.child("arrays");
  ASSERT_NE(arrays, nullptr);
  ASSERT_EQ(arrays->children.size(), 2u);
  EXPECT_EQ(arrays->children[0].name, "array0");
  EXPECT_EQ(arrays->children[1].name, "array3");  // appended where first seen
  EXPECT_EQ(arrays->child("array0")->child("adc_bank")->value("conversions")->value, 9);
  EXPECT_EQ(arrays->child("array0")->child("crossbar")->value("cell_reads")->value, 20);
  EXPECT_EQ(arrays->child("array3")->child("adc_bank")->value("conversions")->value, 1);
}

TEST(Stats, AddingADifferentBlockIsAnError) {
  RouterStats r;
  DacStats d;
  StatNode a = snapshot("x", r);
  EXPECT_THROW(a.add(snapshot("x", d)), std::logic_error);
}

TEST(Stats, EventsAndStallsAreSumsOverTheTree) {
  StatNode run = chip_with({array_tree("array0", 5, 2), array_tree("array1", 4, 0)});
  InputBufferStats ib;
  ib.read_bits = 64;
  run.children.push_back(snapshot("input_buffer", ib));
  const EventCounts e = events_of(run);
  EXPECT_EQ(e[static_cast<size_t>(Event::AdcConversion)], 9);
  EXPECT_EQ(e[static_cast<size_t>(Event::CellRead)], 20);
  EXPECT_EQ(e[static_cast<size_t>(Event::BufferReadBit)], 64);
  EXPECT_EQ(e[static_cast<size_t>(Event::DacConversion)], 0);
  const auto stalls = stalls_of(run);
  ASSERT_EQ(stalls.size(), 1u);  // causes with 0 clocks are left out
  EXPECT_EQ(stalls.at("adc_busy"), 2);
}

}  // namespace
}  // namespace imcsim
