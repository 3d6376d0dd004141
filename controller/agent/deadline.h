// Deadlines on the agent's Clock for the coroutines of its event loop. Beast's own stream
// timeouts (tcp_stream::expires_after) wait on a steady_timer inside the stream, on real time
// that no test controls, so the agent never uses them: it takes every deadline from here.
#pragma once

#include "agent/asio.h"
#include "agent/clock.h"

namespace meshprobe::agent {

// The deadline of one connection, with Beast's semantics: once it passes, the socket is
// closed, so the operation in flight and every later one fails, and `error_for` reports those
// failures as beast::error::timeout. Destroying it cancels it.
class ConnectionDeadline {
 public:
  ConnectionDeadline(Clock& clock, asio::ip::tcp::socket& socket)
      : clock_(clock), socket_(socket) {}

  // A deadline already past closes the socket at once.
  void expires_at(MonotonicTime deadline);
  void expires_after(Duration duration) { expires_at(clock_.now() + duration); }
  void expires_never() { timer_.reset(); }

  bool expired() const { return expired_; }
  // What a failed operation on the socket reports: a timeout once the deadline has passed.
  error_code error_for(const error_code& error) const;

 private:
  void expire();

  Clock& clock_;
  asio::ip::tcp::socket& socket_;
  TimerPtr timer_;
  bool expired_ = false;
};

// Suspends the calling coroutine for `duration` on `clock`.
asio::awaitable<void> wait_for(Clock& clock, Duration duration);

}  // namespace meshprobe::agent
