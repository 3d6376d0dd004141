#include "kube/backoff.h"

#include <gtest/gtest.h>

#include "kube/fake_clock.h"
#include "kube/mocks/mock_random.h"

namespace meshprobe::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::Return;

TEST(BackoffTest, DoublesFromTheInitialDelayUpToTheMaximum) {
  FakeClock clock;
  ::testing::NiceMock<MockRandom> random;
  ON_CALL(random, uniform()).WillByDefault(Return(0.0));
  Backoff backoff({}, clock, random);
  std::vector<Duration> delays;
  for (int attempt = 0; attempt < 8; ++attempt) delays.push_back(backoff.next());
  EXPECT_EQ(delays,
            (std::vector<Duration>{milliseconds(800), milliseconds(1600), milliseconds(3200),
                                   milliseconds(6400), milliseconds(12800), milliseconds(25600),
                                   seconds(30), seconds(30)}));
}

TEST(BackoffTest, JitterAddsUpToTheJitterFactorOfTheDelay) {
  FakeClock clock;
  MockRandom random;
  EXPECT_CALL(random, uniform()).WillOnce(Return(0.5)).WillOnce(Return(0.999));
  Backoff backoff({}, clock, random);
  EXPECT_EQ(backoff.next(), milliseconds(1200));
  EXPECT_EQ(backoff.next(),
            milliseconds(1600) + milliseconds(1598) + std::chrono::microseconds(400));
}

TEST(BackoffTest, StartsOverAfterAQuietPeriodOrAReset) {
  FakeClock clock;
  ::testing::NiceMock<MockRandom> random;
  ON_CALL(random, uniform()).WillByDefault(Return(0.0));
  Backoff backoff({}, clock, random);
  backoff.next();
  backoff.next();
  clock.advance(seconds(121));
  EXPECT_EQ(backoff.next(), milliseconds(800));
  backoff.next();
  backoff.reset();
  EXPECT_EQ(backoff.next(), milliseconds(800));
}

}  // namespace
}  // namespace meshprobe::kube
