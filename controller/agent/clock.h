// Time as the agent sees it, from one source: monotonic time for probe durations and for every
// deadline (probe timeouts, the server's read and write timeouts, the accept back-off), wall
// time for log lines. Timers run on the agent's event loop, the one thread that runs
// everything. run_agent() wires RealClock (real_clock.h); tests wire FakeClock
// (unit/agent/mocks/fake_clock.h), whose timers fire when the test advances time.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

namespace meshprobe::agent {

using MonotonicTime = std::chrono::steady_clock::time_point;
using SystemTime = std::chrono::system_clock::time_point;
using Duration = std::chrono::steady_clock::duration;

// A scheduled callback. Destroying it cancels the callback if it has not run; the callback
// itself may destroy it.
class Timer {
 public:
  virtual ~Timer() = default;
};
using TimerPtr = std::unique_ptr<Timer>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonotonicTime now() const = 0;
  virtual SystemTime system_now() const = 0;
  // Runs `callback` once at or after `deadline`, on the agent's event loop.
  virtual TimerPtr schedule(MonotonicTime deadline, std::function<void()> callback) = 0;
};

}  // namespace meshprobe::agent
