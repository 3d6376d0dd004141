// The agent's production Clock: std::chrono's clocks, and timers that are Asio steady_timers
// on the agent's event loop.
#pragma once

#include "agent/asio.h"
#include "agent/clock.h"

namespace meshprobe::agent {

class RealClock final : public Clock {
 public:
  explicit RealClock(asio::any_io_executor executor) : executor_(std::move(executor)) {}

  MonotonicTime now() const override { return std::chrono::steady_clock::now(); }
  SystemTime system_now() const override { return std::chrono::system_clock::now(); }
  TimerPtr schedule(MonotonicTime deadline, std::function<void()> callback) override;

 private:
  asio::any_io_executor executor_;
};

}  // namespace meshprobe::agent
