// TimerQueue: the pending timers shared by RealClock and FakeClock: ordered by deadline,
// cancellable, and a cancel waits for a callback that is running on another thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "kube/clock.h"

namespace meshprobe::kube {

class TimerQueue : public std::enable_shared_from_this<TimerQueue> {
 public:
  // Adds a timer and returns its handle.
  TimerPtr add(MonotonicTime deadline, std::function<void()> callback);

  // Runs the earliest timer whose deadline is at or before `now`, outside the lock. Returns
  // false when there is none.
  bool run_one_due(MonotonicTime now);

  std::optional<MonotonicTime> earliest_deadline() const;
  std::size_t size() const;

  // RealClock's thread: runs timers as their deadlines pass on the real steady clock until
  // stop() is called.
  void serve_real_time();
  void stop();

 private:
  class Handle;
  void cancel(std::uint64_t id);

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::condition_variable finished_;
  std::multimap<MonotonicTime, std::pair<std::uint64_t, std::function<void()>>> pending_;
  std::uint64_t next_id_ = 1;
  bool stopped_ = false;
  std::uint64_t running_id_ = 0;
  std::thread::id running_thread_;
};

}  // namespace meshprobe::kube
