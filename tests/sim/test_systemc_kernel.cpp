// Toolchain check for the SystemC side: Debian's SystemC 2.3.4 links only with C++17.
// Elaborates a two-process producer/consumer and checks that timed waits advance
// simulated time exactly (the event-driven style the engine uses). Own process: SystemC
// elaborates once per process.
#include <gtest/gtest.h>

#include <systemc>

namespace {

SC_MODULE(Pipe) {
  sc_core::sc_fifo<int> fifo{2};
  std::vector<std::pair<int, double>> received;  // value, time in ns

  SC_CTOR(Pipe) {
    SC_THREAD(produce);
    SC_THREAD(consume);
  }
  void produce() {
    for (int v = 1; v <= 4; ++v) {
      wait(3, sc_core::SC_NS);
      fifo.write(v);
    }
  }
  void consume() {
    for (int n = 0; n < 4; ++n) {
      int v = 0;
      fifo.read(v);
      received.emplace_back(v, sc_core::sc_time_stamp().to_seconds() * 1e9);
      wait(5, sc_core::SC_NS);  // slower consumer: stalls the producer on a full fifo
    }
  }
};

Pipe* g_pipe = nullptr;

TEST(SystemCKernel, TimedWaitsAdvanceSimulatedTime) {
  sc_core::sc_start();
  ASSERT_EQ(g_pipe->received.size(), 4u);
  // Values arrive at 3, 8, 13, 18 ns: the first after the producer's delay, the rest
  // paced by the consumer.
  const double want[] = {3, 8, 13, 18};
  for (int n = 0; n < 4; ++n) {
    EXPECT_EQ(g_pipe->received[n].first, n + 1);
    EXPECT_NEAR(g_pipe->received[n].second, want[n], 1e-9);
  }
}

}  // namespace

int sc_main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  Pipe pipe("pipe");
  g_pipe = &pipe;
  return RUN_ALL_TESTS();
}
