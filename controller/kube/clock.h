// Clock: the one source of time for every layer above probe. Components take a Clock& in
// their constructor; main() wires RealClock, unit tests wire FakeClock (fake_clock.h), whose
// timers fire when the test advances time, so no test sleeps or reads the wall clock.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>

namespace meshprobe::kube {

using MonotonicTime = std::chrono::steady_clock::time_point;
using SystemTime = std::chrono::system_clock::time_point;
using Duration = std::chrono::nanoseconds;

// A scheduled callback. Destroying it cancels the callback if it has not started, and waits
// for it if it is running on another thread, so nothing it captured is used afterwards.
class Timer {
 public:
  virtual ~Timer() = default;
};
using TimerPtr = std::unique_ptr<Timer>;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time: for deadlines, intervals and rate limits.
  virtual MonotonicTime now() const = 0;
  // Wall-clock time: only for timestamps written to the API (Lease renewTime, conditions).
  virtual SystemTime system_now() const = 0;
  // Runs `callback` once at or after `deadline` on the clock's own thread. Callbacks must be
  // short: they share that thread with every other timer.
  virtual TimerPtr schedule(MonotonicTime deadline, std::function<void()> callback) = 0;
};
using ClockPtr = std::unique_ptr<Clock>;

// Blocks until `deadline` on `clock` or until `stop` is requested. Returns true when the
// deadline was reached, false when stopped first. The way background loops wait.
bool sleep_until(Clock& clock, MonotonicTime deadline, std::stop_token stop);
bool sleep_for(Clock& clock, Duration duration, std::stop_token stop);

// The production clock: std::chrono clocks and one timer thread, stopped by the destructor.
// It must outlive every Timer it returned.
class RealClock final : public Clock {
 public:
  RealClock();
  ~RealClock() override;
  RealClock(const RealClock&) = delete;
  RealClock& operator=(const RealClock&) = delete;

  MonotonicTime now() const override;
  SystemTime system_now() const override;
  TimerPtr schedule(MonotonicTime deadline, std::function<void()> callback) override;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace meshprobe::kube
