// Rate limiting, as client-go's workqueue and flowcontrol packages:
// - TokenBucket: pure token-bucket arithmetic (golang.org/x/time/rate's reservations).
// - RateLimiter: how long an item waits before it is retried (the work queue's limiters).
// - ClientRateLimiter: blocks callers of the API client to QPS with a burst.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <vector>

#include "kube/clock.h"

namespace meshprobe::kube {

class TokenBucket {
 public:
  TokenBucket(double queries_per_second, int burst, MonotonicTime start);
  // Takes one token and returns how long the caller must wait before using it (0 when a
  // token was available). Tokens may go negative: later callers queue behind earlier ones.
  Duration reserve(MonotonicTime now);

 private:
  double queries_per_second_;
  double burst_;
  double tokens_;
  MonotonicTime last_;
};

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // How long `item` waits before its next attempt; each call counts as one more failure.
  virtual Duration when(const std::string& item) = 0;
  // The item succeeded: stop tracking it.
  virtual void forget(const std::string& item) = 0;
  virtual int num_requeues(const std::string& item) const = 0;
};
using RateLimiterPtr = std::unique_ptr<RateLimiter>;

// base * 2^failures, capped at `maximum`, per item.
class ItemExponentialRateLimiter final : public RateLimiter {
 public:
  ItemExponentialRateLimiter(Duration base, Duration maximum);
  Duration when(const std::string& item) override;
  void forget(const std::string& item) override;
  int num_requeues(const std::string& item) const override;

 private:
  Duration base_;
  Duration maximum_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, int> failures_;
};

// One token bucket for all items: bounds the overall retry rate.
class BucketRateLimiter final : public RateLimiter {
 public:
  BucketRateLimiter(double queries_per_second, int burst, Clock& clock);
  Duration when(const std::string& item) override;
  void forget(const std::string& item) override {}
  int num_requeues(const std::string& item) const override { return 0; }

 private:
  Clock& clock_;
  std::mutex mutex_;
  TokenBucket bucket_;
};

// The longest delay of its limiters; numRequeues is the largest of theirs.
class MaxOfRateLimiter final : public RateLimiter {
 public:
  explicit MaxOfRateLimiter(std::vector<RateLimiterPtr> limiters);
  Duration when(const std::string& item) override;
  void forget(const std::string& item) override;
  int num_requeues(const std::string& item) const override;

 private:
  std::vector<RateLimiterPtr> limiters_;
};

// client-go's DefaultControllerRateLimiter: max(per item 5 ms doubling to 1000 s,
// overall 10 qps with a burst of 100).
RateLimiterPtr make_default_controller_rate_limiter(Clock& clock);

// Blocks each API call until the client's QPS allows it (client-go's rest.Config QPS/Burst).
class ClientRateLimiter {
 public:
  ClientRateLimiter(double queries_per_second, int burst, Clock& clock);
  // Returns false when `stop` was requested while waiting.
  bool wait(std::stop_token stop);

 private:
  Clock& clock_;
  std::mutex mutex_;
  TokenBucket bucket_;
};

}  // namespace meshprobe::kube
