// A clock that moves only when the test says so.
#pragma once

#include "agent/clock.h"

namespace meshprobe::agent {

class FakeClock : public Clock {
 public:
  std::chrono::steady_clock::time_point monotonic_now() const override { return monotonic_; }
  std::chrono::system_clock::time_point system_now() const override { return system_; }

  void advance(std::chrono::nanoseconds by) {
    monotonic_ += by;
    system_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(by);
  }
  void set_system(std::chrono::system_clock::time_point time) { system_ = time; }

 private:
  std::chrono::steady_clock::time_point monotonic_{std::chrono::hours(1)};
  std::chrono::system_clock::time_point system_{std::chrono::seconds(1'700'000'000)};
};

}  // namespace meshprobe::agent
