#include "kube/backoff.h"

#include <algorithm>

namespace meshprobe::kube {

Backoff::Backoff(BackoffOptions options, Clock& clock, Random& random)
    : options_(options), clock_(clock), random_(random), current_(options.initial) {}

Duration Backoff::next() {
  const MonotonicTime now = clock_.now();
  if (failedBefore_ && now - lastFailure_ > options_.resetAfter) current_ = options_.initial;
  failedBefore_ = true;
  lastFailure_ = now;
  const Duration delay = jitter(current_, options_.jitter, random_);
  current_ = std::min(options_.maximum,
                      std::chrono::duration_cast<Duration>(current_ * options_.factor));
  return delay;
}

void Backoff::reset() {
  current_ = options_.initial;
  failedBefore_ = false;
}

}  // namespace meshprobe::kube
