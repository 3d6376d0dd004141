// Backoff for reconnect loops (reflectors, leader election): exponential with jitter and a
// reset after a quiet period, as client-go's reflector (800 ms doubling to 30 s, jitter 1.0,
// reset after 2 minutes without a failure).
#pragma once

#include <chrono>

#include "kube/clock.h"
#include "kube/random.h"

namespace meshprobe::kube {

struct BackoffOptions {
  Duration initial = std::chrono::milliseconds(800);
  Duration maximum = std::chrono::seconds(30);
  double factor = 2.0;
  double jitter = 1.0;                             // each delay is scaled by [1, 1 + jitter)
  Duration reset_after = std::chrono::minutes(2);  // no failure for this long: start over
};

class Backoff {
 public:
  Backoff(BackoffOptions options, Clock& clock, Random& random);

  // The delay before the next attempt; each call is one more failure.
  Duration next();
  void reset();

 private:
  BackoffOptions options_;
  Clock& clock_;
  Random& random_;
  Duration current_;
  MonotonicTime last_failure_{};
  bool failed_before_ = false;
};

}  // namespace meshprobe::kube
