#include "kube/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace meshprobe::kube {

TokenBucket::TokenBucket(double queries_per_second, int burst, MonotonicTime start)
    : queries_per_second_(queries_per_second), burst_(burst), tokens_(burst), last_(start) {}

Duration TokenBucket::reserve(MonotonicTime now) {
  if (now > last_) {
    const double elapsed_seconds = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed_seconds * queries_per_second_);
    last_ = now;
  }
  tokens_ -= 1.0;
  if (tokens_ >= 0.0) return Duration::zero();
  return std::chrono::duration_cast<Duration>(
      std::chrono::duration<double>(-tokens_ / queries_per_second_));
}

ItemExponentialRateLimiter::ItemExponentialRateLimiter(Duration base, Duration maximum)
    : base_(base), maximum_(maximum) {}

Duration ItemExponentialRateLimiter::when(const std::string& item) {
  std::lock_guard lock(mutex_);
  const int failures = failures_[item]++;
  // Compute in floating point: 2^failures overflows an integer long before it matters.
  const double delay = std::chrono::duration<double>(base_).count() * std::pow(2.0, failures);
  if (delay >= std::chrono::duration<double>(maximum_).count()) return maximum_;
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(delay));
}

void ItemExponentialRateLimiter::forget(const std::string& item) {
  std::lock_guard lock(mutex_);
  failures_.erase(item);
}

int ItemExponentialRateLimiter::num_requeues(const std::string& item) const {
  std::lock_guard lock(mutex_);
  auto found = failures_.find(item);
  return found == failures_.end() ? 0 : found->second;
}

BucketRateLimiter::BucketRateLimiter(double queries_per_second, int burst, Clock& clock)
    : clock_(clock), bucket_(queries_per_second, burst, clock.now()) {}

Duration BucketRateLimiter::when(const std::string& item) {
  std::lock_guard lock(mutex_);
  return bucket_.reserve(clock_.now());
}

MaxOfRateLimiter::MaxOfRateLimiter(std::vector<RateLimiterPtr> limiters)
    : limiters_(std::move(limiters)) {}

Duration MaxOfRateLimiter::when(const std::string& item) {
  Duration longest = Duration::zero();
  for (auto& limiter : limiters_) longest = std::max(longest, limiter->when(item));
  return longest;
}

void MaxOfRateLimiter::forget(const std::string& item) {
  for (auto& limiter : limiters_) limiter->forget(item);
}

int MaxOfRateLimiter::num_requeues(const std::string& item) const {
  int most = 0;
  for (const auto& limiter : limiters_) most = std::max(most, limiter->num_requeues(item));
  return most;
}

RateLimiterPtr make_default_controller_rate_limiter(Clock& clock) {
  std::vector<RateLimiterPtr> limiters;
  limiters.push_back(std::make_unique<ItemExponentialRateLimiter>(std::chrono::milliseconds(5),
                                                                  std::chrono::seconds(1000)));
  limiters.push_back(std::make_unique<BucketRateLimiter>(10.0, 100, clock));
  return std::make_unique<MaxOfRateLimiter>(std::move(limiters));
}

ClientRateLimiter::ClientRateLimiter(double queries_per_second, int burst, Clock& clock)
    : clock_(clock), bucket_(queries_per_second, burst, clock.now()) {}

bool ClientRateLimiter::wait(std::stop_token stop) {
  MonotonicTime now = clock_.now();
  Duration delay;
  {
    std::lock_guard lock(mutex_);
    delay = bucket_.reserve(now);
  }
  if (delay == Duration::zero()) return !stop.stop_requested();
  return sleep_until(clock_, now + delay, stop);
}

}  // namespace meshprobe::kube
