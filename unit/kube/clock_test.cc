#include "kube/clock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "kube/fake_clock.h"

namespace meshprobe::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(FakeClockTest, TimersFireInDeadlineOrderWhenTimeAdvancesPastThem) {
  FakeClock clock;
  const MonotonicTime start = clock.now();
  std::vector<std::pair<int, MonotonicTime>> fired;
  TimerPtr late = clock.schedule(start + seconds(2), [&] { fired.emplace_back(2, clock.now()); });
  TimerPtr early = clock.schedule(start + seconds(1), [&] { fired.emplace_back(1, clock.now()); });
  clock.advance(milliseconds(999));
  EXPECT_TRUE(fired.empty());
  clock.advance(seconds(5));
  ASSERT_EQ(fired.size(), 2u);
  EXPECT_EQ(fired[0], std::make_pair(1, start + seconds(1)));
  EXPECT_EQ(fired[1], std::make_pair(2, start + seconds(2)));
  EXPECT_EQ(clock.now(), start + milliseconds(5999));
}

TEST(FakeClockTest, DestroyingATimerCancelsIt) {
  FakeClock clock;
  bool fired = false;
  TimerPtr timer = clock.schedule(clock.now() + seconds(1), [&] { fired = true; });
  timer.reset();
  clock.advance(seconds(2));
  EXPECT_FALSE(fired);
  EXPECT_EQ(clock.pending_timers(), 0u);
}

TEST(FakeClockTest, TimerScheduledByATimerWithinTheAdvanceFires) {
  FakeClock clock;
  int fired = 0;
  TimerPtr second;
  TimerPtr first = clock.schedule(clock.now() + seconds(1), [&] {
    ++fired;
    second = clock.schedule(clock.now() + seconds(1), [&] { ++fired; });
  });
  clock.advance(seconds(3));
  EXPECT_EQ(fired, 2);
}

TEST(FakeClockTest, SystemTimeMovesWithMonotonicTime) {
  FakeClock clock;
  const SystemTime before = clock.system_now();
  clock.advance(seconds(7));
  EXPECT_EQ(clock.system_now() - before, seconds(7));
}

TEST(SleepTest, ASleepingThreadWakesWhenTheFakeClockPassesItsDeadline) {
  FakeClock clock;
  std::atomic<int> result{-1};
  std::jthread sleeper(
      [&](std::stop_token stop) { result = sleep_for(clock, seconds(10), stop) ? 1 : 0; });
  ASSERT_TRUE(clock.wait_for_pending_timers(1));
  clock.advance(seconds(9));
  EXPECT_EQ(result.load(), -1);
  clock.advance(seconds(1));
  sleeper.join();
  EXPECT_EQ(result.load(), 1);
}

TEST(SleepTest, StopInterruptsASleep) {
  FakeClock clock;
  std::atomic<int> result{-1};
  std::jthread sleeper(
      [&](std::stop_token stop) { result = sleep_for(clock, seconds(10), stop) ? 1 : 0; });
  ASSERT_TRUE(clock.wait_for_pending_timers(1));
  sleeper.request_stop();
  sleeper.join();
  EXPECT_EQ(result.load(), 0);
  EXPECT_EQ(clock.pending_timers(), 0u);
}

// The one test on real time: RealClock's thread runs timers, in order, and cancels.
TEST(RealClockTest, RunsTimersInOrderAndCancels) {
  RealClock clock;
  std::mutex mutex;
  std::vector<int> fired;
  std::atomic<int> count{0};
  const MonotonicTime start = clock.now();
  TimerPtr cancelled = clock.schedule(start + milliseconds(5), [&] { fired.push_back(0); });
  TimerPtr second = clock.schedule(start + milliseconds(20), [&] {
    std::lock_guard lock(mutex);
    fired.push_back(2);
    ++count;
  });
  TimerPtr first = clock.schedule(start + milliseconds(10), [&] {
    std::lock_guard lock(mutex);
    fired.push_back(1);
    ++count;
  });
  cancelled.reset();
  std::stop_source never;
  sleep_until(clock, start + milliseconds(40), never.get_token());
  while (count.load() < 2) std::this_thread::yield();
  std::lock_guard lock(mutex);
  EXPECT_EQ(fired, (std::vector<int>{1, 2}));
}

}  // namespace
}  // namespace meshprobe::kube
