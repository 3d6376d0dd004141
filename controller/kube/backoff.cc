#include "kube/backoff.h"

#include <algorithm>

namespace meshprobe::kube {

Backoff::Backoff(BackoffOptions options, Clock& clock, Random& random)
    : options_(options), clock_(clock), random_(random), current_(options.initial) {}

Duration Backoff::next() {
  const MonotonicTime now = clock_.now();
  if (failed_before_ && now - last_failure_ > options_.reset_after) current_ = options_.initial;
  failed_before_ = true;
  last_failure_ = now;
  const Duration delay = jitter(current_, options_.jitter, random_);
  current_ =
      std::min(options_.maximum, std::chrono::duration_cast<Duration>(current_ * options_.factor));
  return delay;
}

void Backoff::reset() {
  current_ = options_.initial;
  failed_before_ = false;
}

}  // namespace meshprobe::kube
