// One worker thread for the work of a run that does not feed the engine (the float and
// integer reference passes, each layer's check against its reference accumulators): it runs
// on the second core while the engine (the SystemC kernel, one thread) simulates. Tasks run
// one at a time: urgent ones (a layer's check, which holds copies of its tensors) before
// the rest, each group in the order posted. A task's result is whatever it writes; join()
// waits for all of them and rethrows the first exception a task threw. Without a thread
// (`threaded` false: a run told to use one thread, `imcsim run --threads 1`) post() runs
// the task at once, and its exception propagates from there.
#pragma once

#include <sched.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace imcsim {

// The cores this process may run on: its CPU affinity (what taskset, a Slurm allocation or a
// container's cpuset leave it), else the machine's count; at least 1.
inline int64_t usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max<int64_t>(1, std::thread::hardware_concurrency());
}

class BackgroundWorker {
 public:
  explicit BackgroundWorker(bool threaded) {
    if (threaded) thread_ = std::thread([this] { loop(); });
  }
  BackgroundWorker(const BackgroundWorker&) = delete;
  BackgroundWorker& operator=(const BackgroundWorker&) = delete;
  // Without a join (an exception on the way out): the queued tasks are dropped, the running
  // one finishes.
  ~BackgroundWorker() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      urgent_.clear();
      normal_.clear();
    }
    stop();
  }

  void post(std::function<void()> task, bool urgent = false) {
    if (!thread_.joinable()) {
      task();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      (urgent ? urgent_ : normal_).push_back(std::move(task));
    }
    wake_.notify_one();
  }

  // Every posted task has run; the first exception of one is rethrown here.
  void join() {
    stop();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closing_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  void loop() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return closing_ || !urgent_.empty() || !normal_.empty(); });
        std::deque<std::function<void()>>& q = !urgent_.empty() ? urgent_ : normal_;
        if (q.empty()) return;  // closing, nothing left
        task = std::move(q.front());
        q.pop_front();
      }
      if (error_) continue;  // after a failure the rest is moot: drain without running
      try {
        task();
      } catch (...) {
        error_ = std::current_exception();
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> urgent_, normal_;
  bool closing_ = false;
  std::exception_ptr error_;  // written by the worker only, read after it joined
  std::thread thread_;        // started once the members above exist
};

}  // namespace imcsim
