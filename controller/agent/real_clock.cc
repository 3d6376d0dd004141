#include "agent/real_clock.h"

namespace meshprobe::agent {
namespace {

// A steady_timer waiting on the event loop. The callback is shared with the wait's completion
// through a weak pointer: once the timer is destroyed, a completion already queued finds it
// gone and does nothing.
class SteadyTimer final : public Timer {
 public:
  SteadyTimer(const asio::any_io_executor& executor, MonotonicTime deadline,
              std::function<void()> callback)
      : timer_(executor, deadline),
        callback_(std::make_shared<std::function<void()>>(std::move(callback))) {
    timer_.async_wait([weak = std::weak_ptr(callback_)](const error_code& error) {
      const auto callback = weak.lock();
      if (error || !callback) return;
      auto run = std::move(*callback);  // the callback may destroy this timer
      run();
    });
  }

 private:
  asio::steady_timer timer_;
  std::shared_ptr<std::function<void()>> callback_;
};

}  // namespace

TimerPtr RealClock::schedule(MonotonicTime deadline, std::function<void()> callback) {
  return std::make_unique<SteadyTimer>(executor_, deadline, std::move(callback));
}

}  // namespace meshprobe::agent
