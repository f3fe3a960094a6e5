// The integer reference's output at the lossless ADC bound (sim/run/cycle_summary.hpp): a
// cycle run takes the simulated output when every layer was exact and runs the reference pass
// after the engine only when a layer was not (no real engine defect reaches that branch, so
// it is tested here on records). Links the cycle run, hence SystemC: its own sc_main.
#include <gtest/gtest.h>

#include <systemc>
#include <vector>

#include "sim/run/cycle_summary.hpp"

namespace imcsim {
namespace {

ref::FloatTensor tensor(double v) {
  ref::FloatTensor t(2, 1, 1);
  t.data = {v, -v};
  return t;
}

struct Pass {
  int calls = 0;
  ref::FloatTensor operator()() {
    ++calls;
    return tensor(7.0);
  }
};

TEST(LosslessReference, EveryLayerExactTakesTheSimulatedOutput) {
  const std::vector<LayerRecord> records(3);
  Pass pass;
  const ref::FloatTensor out =
      lossless_reference_output(records, true, tensor(1.5), [&] { return pass(); });
  EXPECT_EQ(pass.calls, 0);
  EXPECT_EQ(out.data, tensor(1.5).data);
}

TEST(LosslessReference, AnInexactLayerRunsTheReferencePass) {
  for (size_t bad = 0; bad < 3; ++bad) {
    std::vector<LayerRecord> records(3);
    records[bad].exact = false;
    Pass pass;
    const ref::FloatTensor out =
        lossless_reference_output(records, true, tensor(1.5), [&] { return pass(); });
    EXPECT_EQ(pass.calls, 1) << "inexact layer " << bad;
    EXPECT_EQ(out.data, tensor(7.0).data) << "inexact layer " << bad;
  }
}

TEST(LosslessReference, ATimingOnlyRunHasNoValuesToCheck) {
  std::vector<LayerRecord> records(2);
  records[0].exact = false;
  Pass pass;
  const ref::FloatTensor out =
      lossless_reference_output(records, false, tensor(1.5), [&] { return pass(); });
  EXPECT_EQ(pass.calls, 0);
  EXPECT_EQ(out.data, tensor(1.5).data);
}

}  // namespace
}  // namespace imcsim

int sc_main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
