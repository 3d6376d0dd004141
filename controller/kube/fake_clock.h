// FakeClock: simulated time for unit tests (of this layer and the ones above). Time moves only
// when the test calls advance(); timers due by then run on the test's thread, in deadline
// order, each seeing now() equal to its deadline.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "kube/clock.h"

namespace meshprobe::kube {

class TimerQueue;

class FakeClock final : public Clock {
 public:
  // Starts at an arbitrary but fixed point, so tests are reproducible.
  FakeClock();
  ~FakeClock() override;

  MonotonicTime now() const override;
  SystemTime system_now() const override;
  TimerPtr schedule(MonotonicTime deadline, std::function<void()> callback) override;

  // Moves time forward by `duration`, running every timer that comes due on the way.
  void advance(Duration duration);

  std::size_t pending_timers() const;
  // For tests that drive a background thread: blocks until at least `count` timers are
  // pending (for example, a loop has gone to sleep). A real-time bound keeps a broken test
  // from hanging; returns false when it ran out.
  bool wait_for_pending_timers(std::size_t count,
                               std::chrono::milliseconds bound = std::chrono::seconds(10)) const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable timers_changed_;
  Duration elapsed_{0};
  std::shared_ptr<TimerQueue> timers_;
};

}  // namespace meshprobe::kube
