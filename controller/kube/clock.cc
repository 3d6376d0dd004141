#include "kube/clock.h"

#include <condition_variable>
#include <mutex>
#include <thread>

#include "kube/timer_queue.h"

namespace meshprobe::kube {

bool sleep_until(Clock& clock, MonotonicTime deadline, std::stop_token stop) {
  std::mutex mutex;
  std::condition_variable_any wake;
  bool reached = false;
  TimerPtr timer = clock.schedule(deadline, [&] {
    std::lock_guard lock(mutex);
    reached = true;
    wake.notify_all();
  });
  std::unique_lock lock(mutex);
  wake.wait(lock, stop, [&] { return reached; });
  return reached;
}

bool sleep_for(Clock& clock, Duration duration, std::stop_token stop) {
  return sleep_until(clock, clock.now() + duration, std::move(stop));
}

struct RealClock::State {
  std::shared_ptr<TimerQueue> timers = std::make_shared<TimerQueue>();
  std::thread thread;
};

RealClock::RealClock() : state_(std::make_shared<State>()) {
  state_->thread = std::thread([timers = state_->timers] { timers->serve_real_time(); });
}

RealClock::~RealClock() {
  state_->timers->stop();
  state_->thread.join();
}

MonotonicTime RealClock::now() const { return std::chrono::steady_clock::now(); }

SystemTime RealClock::system_now() const { return std::chrono::system_clock::now(); }

TimerPtr RealClock::schedule(MonotonicTime deadline, std::function<void()> callback) {
  return state_->timers->add(deadline, std::move(callback));
}

}  // namespace meshprobe::kube
