#include "agent/deadline.h"

namespace meshprobe::agent {

void ConnectionDeadline::expires_at(MonotonicTime deadline) {
  if (deadline <= clock_.now()) {
    timer_.reset();
    expire();
    return;
  }
  timer_ = clock_.schedule(deadline, [this] { expire(); });
}

void ConnectionDeadline::expire() {
  expired_ = true;
  error_code ignored;
  socket_.close(ignored);  // fails the operation in flight with operation_aborted
}

error_code ConnectionDeadline::error_for(const error_code& error) const {
  if (error && expired_) return beast::error::timeout;
  return error;
}

asio::awaitable<void> wait_for(Clock& clock, Duration duration) {
  // An Asio timer that never expires by itself keeps the event loop running and resumes this
  // coroutine; the clock's timer cancels it at the deadline.
  asio::steady_timer wake(co_await asio::this_coro::executor,
                          asio::steady_timer::time_point::max());
  const TimerPtr timer = clock.schedule(clock.now() + duration, [&wake] { wake.cancel(); });
  error_code cancelled;
  co_await wake.async_wait(await_error(cancelled));
}

}  // namespace meshprobe::agent
