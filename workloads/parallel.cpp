#include "workloads/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace imcsim {

void parallel_for(int64_t n, int threads, const std::function<void(int64_t)>& fn) {
  const int64_t t_count = std::max<int64_t>(1, std::min<int64_t>(threads, n));
  if (t_count == 1) {
    for (int64_t k = 0; k < n; ++k) fn(k);
    return;
  }
  std::atomic<int64_t> next{0};
  std::atomic<bool> stop{false};
  std::exception_ptr failure;
  std::mutex mu;
  auto worker = [&] {
    while (!stop) {
      const int64_t k = next++;
      if (k >= n) return;
      try {
        fn(k);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!failure) failure = std::current_exception();
        stop = true;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < t_count; ++t) pool.emplace_back(worker);
  worker();  // the calling thread is one of the workers
  for (auto& th : pool) th.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace imcsim
