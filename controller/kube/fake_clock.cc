#include "kube/fake_clock.h"

#include "kube/timer_queue.h"

namespace meshprobe::kube {
namespace {

// 2026-01-01T00:00:00Z: any fixed point works; a recent one keeps timestamps readable.
constexpr std::chrono::seconds kSystemStart{1767225600};
const MonotonicTime kMonotonicStart = MonotonicTime{} + std::chrono::hours(1000);

}  // namespace

FakeClock::FakeClock() : timers_(std::make_shared<TimerQueue>()) {}

FakeClock::~FakeClock() = default;

MonotonicTime FakeClock::now() const {
  std::lock_guard lock(mutex_);
  return kMonotonicStart + elapsed_;
}

SystemTime FakeClock::system_now() const {
  std::lock_guard lock(mutex_);
  return SystemTime{} + kSystemStart + std::chrono::duration_cast<SystemTime::duration>(elapsed_);
}

TimerPtr FakeClock::schedule(MonotonicTime deadline, std::function<void()> callback) {
  TimerPtr timer = timers_->add(deadline, std::move(callback));
  { std::lock_guard lock(mutex_); }
  timers_changed_.notify_all();
  return timer;
}

void FakeClock::advance(Duration duration) {
  const MonotonicTime target = now() + duration;
  while (true) {
    std::optional<MonotonicTime> next = timers_->earliest_deadline();
    if (!next || *next > target) break;
    {
      std::lock_guard lock(mutex_);
      if (*next > kMonotonicStart + elapsed_) elapsed_ = *next - kMonotonicStart;
    }
    timers_->run_one_due(*next);
  }
  std::lock_guard lock(mutex_);
  elapsed_ = target - kMonotonicStart;
}

std::size_t FakeClock::pending_timers() const { return timers_->size(); }

bool FakeClock::wait_for_pending_timers(std::size_t count, std::chrono::milliseconds bound) const {
  std::unique_lock lock(mutex_);
  return timers_changed_.wait_for(lock, bound, [&] { return timers_->size() >= count; });
}

}  // namespace meshprobe::kube
