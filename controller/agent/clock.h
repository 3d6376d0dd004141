// Time as the agent sees it: monotonic time for probe durations, wall time for log lines.
// Injected so that tests control it (see unit/agent/mocks/fake_clock.h).
#pragma once

#include <chrono>
#include <memory>

namespace meshprobe::agent {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point monotonic_now() const = 0;
  virtual std::chrono::system_clock::time_point system_now() const = 0;
};

using ClockPtr = std::unique_ptr<Clock>;

class RealClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point monotonic_now() const override {
    return std::chrono::steady_clock::now();
  }
  std::chrono::system_clock::time_point system_now() const override {
    return std::chrono::system_clock::now();
  }
};

}  // namespace meshprobe::agent
