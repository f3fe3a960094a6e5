// The one in-process thread pool (workloads/parallel.hpp).
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "workloads/parallel.hpp"

namespace imcsim {
namespace {

TEST(ParallelFor, RunsEveryIndexExactlyOnceOnAnyThreadCount) {
  for (int threads : {0, 1, 2, 3, 8}) {
    for (int64_t n : {0, 1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      parallel_for(n, threads, [&](int64_t k) { ++hits[static_cast<size_t>(k)]; });
      for (int64_t k = 0; k < n; ++k)
        EXPECT_EQ(hits[static_cast<size_t>(k)].load(), 1) << "n " << n << " threads " << threads;
    }
  }
}

TEST(ParallelFor, TheFirstErrorIsRethrownAsThrownAndStopsTheRest) {
  for (int threads : {1, 2}) {
    std::atomic<int64_t> ran{0};
    try {
      parallel_for(100000, threads, [&](int64_t k) {
        ++ran;
        if (k == 10) throw std::invalid_argument("index 10");
      });
      ADD_FAILURE() << "no exception";
    } catch (const std::invalid_argument& e) {
      EXPECT_STREQ(e.what(), "index 10");
    }
    EXPECT_LT(ran.load(), 100000) << threads;
  }
}

}  // namespace
}  // namespace imcsim
