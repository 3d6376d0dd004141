#include "kube/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "kube/fake_clock.h"

namespace meshprobe::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(TokenBucketTest, BurstIsFreeThenCallersQueueAtTheRate) {
  FakeClock clock;
  TokenBucket bucket(10.0, 3, clock.now());
  EXPECT_EQ(bucket.reserve(clock.now()), Duration::zero());
  EXPECT_EQ(bucket.reserve(clock.now()), Duration::zero());
  EXPECT_EQ(bucket.reserve(clock.now()), Duration::zero());
  EXPECT_EQ(bucket.reserve(clock.now()), milliseconds(100));
  EXPECT_EQ(bucket.reserve(clock.now()), milliseconds(200));
  clock.advance(seconds(10));  // refills, but never above the burst
  for (int index = 0; index < 3; ++index) EXPECT_EQ(bucket.reserve(clock.now()), Duration::zero());
  EXPECT_EQ(bucket.reserve(clock.now()), milliseconds(100));
}

TEST(ItemExponentialRateLimiterTest, DoublesPerItemCapsAndForgets) {
  ItemExponentialRateLimiter limiter(milliseconds(5), seconds(1000));
  EXPECT_EQ(limiter.when("a"), milliseconds(5));
  EXPECT_EQ(limiter.when("a"), milliseconds(10));
  EXPECT_EQ(limiter.when("a"), milliseconds(20));
  EXPECT_EQ(limiter.when("b"), milliseconds(5));
  EXPECT_EQ(limiter.num_requeues("a"), 3);
  for (int index = 0; index < 100; ++index) limiter.when("a");
  EXPECT_EQ(limiter.when("a"), seconds(1000));
  limiter.forget("a");
  EXPECT_EQ(limiter.num_requeues("a"), 0);
  EXPECT_EQ(limiter.when("a"), milliseconds(5));
}

TEST(DefaultControllerRateLimiterTest, PerItemBackoffUntilTheOverallBucketRunsDry) {
  FakeClock clock;
  RateLimiterPtr limiter = make_default_controller_rate_limiter(clock);
  // 100 distinct items use the burst: each waits only its own 5 ms.
  for (int index = 0; index < 100; ++index) {
    EXPECT_EQ(limiter->when("item-" + std::to_string(index)), milliseconds(5));
  }
  // The 101st waits for the bucket (10 qps), the 102nd behind it.
  EXPECT_EQ(limiter->when("item-100"), milliseconds(100));
  EXPECT_EQ(limiter->when("item-101"), milliseconds(200));
  EXPECT_EQ(limiter->num_requeues("item-0"), 1);
  limiter->forget("item-0");
  EXPECT_EQ(limiter->num_requeues("item-0"), 0);
}

TEST(ClientRateLimiterTest, BlocksBeyondTheBurstUntilATokenIsDue) {
  FakeClock clock;
  ClientRateLimiter limiter(5.0, 2, clock);
  std::stop_source stop;
  EXPECT_TRUE(limiter.wait(stop.get_token()));
  EXPECT_TRUE(limiter.wait(stop.get_token()));
  std::atomic<bool> passed{false};
  std::jthread caller([&] { passed = limiter.wait(stop.get_token()); });
  ASSERT_TRUE(clock.wait_for_pending_timers(1));
  clock.advance(milliseconds(199));
  EXPECT_FALSE(passed.load());
  clock.advance(milliseconds(1));
  caller.join();
  EXPECT_TRUE(passed.load());
}

}  // namespace
}  // namespace meshprobe::kube
