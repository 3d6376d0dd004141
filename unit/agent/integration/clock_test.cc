// The agent's time source on a real event loop: RealClock's timers, and the deadlines the
// agent takes from its Clock (deadline.h) driven by FakeClock on the test's own thread.
#include <gtest/gtest.h>

#include "agent/deadline.h"
#include "agent/mocks/fake_clock.h"
#include "agent/real_clock.h"

namespace meshprobe::agent {
namespace {

using std::chrono::milliseconds;

// The one test on real time: timers run on the loop in deadline order; a destroyed one never.
TEST(AgentRealClock, RunsTimersOnTheLoopInOrderAndCancels) {
  asio::io_context io;
  RealClock clock(io.get_executor());
  std::vector<int> ran;
  const auto now = clock.now();
  auto second = clock.schedule(now + milliseconds(20), [&] { ran.push_back(2); });
  auto first = clock.schedule(now + milliseconds(10), [&] { ran.push_back(1); });
  auto cancelled = clock.schedule(now + milliseconds(5), [&] { ran.push_back(0); });
  cancelled.reset();
  io.run();
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
}

TEST(AgentRealClock, ATimerMayDestroyItselfFromItsCallback) {
  asio::io_context io;
  RealClock clock(io.get_executor());
  TimerPtr timer;
  bool ran = false;
  timer = clock.schedule(clock.now(), [&] {
    timer.reset();
    ran = true;
  });
  io.run();
  EXPECT_TRUE(ran);
}

// A connected pair of sockets on loopback.
struct SocketPair {
  explicit SocketPair(asio::io_context& io) : near(io), far(io) {
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    near.connect(acceptor.local_endpoint());
    far = acceptor.accept();
  }
  asio::ip::tcp::socket near;
  asio::ip::tcp::socket far;
};

TEST(AgentConnectionDeadline, FailsTheReadInFlightAsATimeoutWhenTheClockPassesIt) {
  asio::io_context io;
  FakeClock clock;
  SocketPair sockets(io);
  ConnectionDeadline deadline(clock, sockets.near);
  deadline.expires_after(std::chrono::seconds(5));
  std::array<char, 16> buffer;
  std::optional<error_code> result;
  sockets.near.async_read_some(asio::buffer(buffer), [&](error_code error, std::size_t) {
    result = deadline.error_for(error);
  });
  io.poll();
  clock.advance(std::chrono::seconds(5) - milliseconds(1));
  io.poll();
  EXPECT_FALSE(result);
  EXPECT_FALSE(deadline.expired());
  clock.advance(milliseconds(1));
  io.poll();
  ASSERT_TRUE(result);
  EXPECT_EQ(*result, beast::error::timeout);
  EXPECT_FALSE(sockets.near.is_open());
}

TEST(AgentConnectionDeadline, ExpiresNeverAndANewDeadlineReplaceTheOld) {
  asio::io_context io;
  FakeClock clock;
  SocketPair sockets(io);
  ConnectionDeadline deadline(clock, sockets.near);
  deadline.expires_after(milliseconds(10));
  deadline.expires_never();
  clock.advance(std::chrono::hours(1));
  EXPECT_TRUE(sockets.near.is_open());
  deadline.expires_after(milliseconds(10));
  deadline.expires_after(milliseconds(20));
  clock.advance(milliseconds(10));
  EXPECT_TRUE(sockets.near.is_open());
  clock.advance(milliseconds(10));
  EXPECT_FALSE(sockets.near.is_open());
}

TEST(AgentConnectionDeadline, ADeadlineAlreadyPastClosesAtOnceAndOnlyFailuresBecomeTimeouts) {
  asio::io_context io;
  FakeClock clock;
  SocketPair sockets(io);
  ConnectionDeadline deadline(clock, sockets.near);
  EXPECT_EQ(deadline.error_for(asio::error::connection_refused), asio::error::connection_refused);
  deadline.expires_at(clock.now());
  EXPECT_TRUE(deadline.expired());
  EXPECT_FALSE(sockets.near.is_open());
  EXPECT_EQ(deadline.error_for(asio::error::bad_descriptor), beast::error::timeout);
  EXPECT_FALSE(deadline.error_for({}));
}

TEST(AgentWaitFor, ResumesWhenTheClockHasMovedByTheDuration) {
  asio::io_context io;
  FakeClock clock;
  bool resumed = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await wait_for(clock, milliseconds(100));
        resumed = true;
      },
      asio::detached);
  io.poll();
  clock.advance(milliseconds(99));
  io.poll();
  EXPECT_FALSE(resumed);
  EXPECT_FALSE(io.stopped());  // the wait keeps the loop running, as an Asio timer does
  clock.advance(milliseconds(1));
  io.run();
  EXPECT_TRUE(resumed);
}

}  // namespace
}  // namespace meshprobe::agent
