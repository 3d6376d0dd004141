// Random: the source of jitter (backoff, watch timeouts, leader-election retries). Injected so
// unit tests can make jitter deterministic.
#pragma once

#include <memory>
#include <mutex>
#include <random>

namespace meshprobe::kube {

class Random {
 public:
  virtual ~Random() = default;
  // Uniform in [0, 1).
  virtual double uniform() = 0;
};
using RandomPtr = std::unique_ptr<Random>;

class RealRandom final : public Random {
 public:
  RealRandom() : engine_(std::random_device{}()) {}
  double uniform() override {
    std::lock_guard lock(mutex_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
  }

 private:
  std::mutex mutex_;
  std::mt19937_64 engine_;
};

// Scales `duration` by a random factor in [1, 1 + maxFactor), as client-go's wait.Jitter.
template <typename D>
D jitter(D duration, double max_factor, Random& random) {
  return duration + std::chrono::duration_cast<D>(duration * (max_factor * random.uniform()));
}

}  // namespace meshprobe::kube
