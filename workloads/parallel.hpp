// The one thread pool of imcsim's in-process parallel work (analytic sweep points, data-set
// images, paper-study points): fn(k) for k in [0, n) on up to `threads` threads, each taking
// the next index as it becomes free (work of uneven cost balances itself). Results are
// whatever fn writes by index, so they do not depend on the thread count. The first
// exception stops the threads from taking new indices and is rethrown, as thrown, after
// all of them have stopped. threads <= 1 (or n <= 1) runs on the calling thread.
#pragma once

#include <cstdint>
#include <functional>

namespace imcsim {

void parallel_for(int64_t n, int threads, const std::function<void(int64_t)>& fn);

}  // namespace imcsim
