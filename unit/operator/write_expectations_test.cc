#include "operator/write_expectations.h"

#include <gtest/gtest.h>

#include "kube/fake_clock.h"

namespace meshprobe::controller {
namespace {

class WriteExpectationsTest : public ::testing::Test {
 protected:
  kube::FakeClock clock_;
  WriteExpectations expectations_{clock_, std::chrono::minutes(1)};
};

TEST_F(WriteExpectationsTest, NothingExpectedIsSatisfied) {
  EXPECT_TRUE(expectations_.satisfied("shop/web", "10"));
}

TEST_F(WriteExpectationsTest, TheVersionsWrittenOverAreNotActedOn) {
  expectations_.expect("shop/all", {"10"});
  EXPECT_FALSE(expectations_.satisfied("shop/all", "10"));
  EXPECT_TRUE(expectations_.satisfied("shop/all", "12"));
  EXPECT_TRUE(expectations_.satisfied("shop/all", "10")) << "fulfilled expectations are forgotten";
}

TEST_F(WriteExpectationsTest, VersionsBeforeTheNewestWriteAreNotActedOn) {
  // Read at 10, template patch gave 11, status write 13.
  expectations_.expect_written("shop/web", {"10", "11", "13"}, "13");
  EXPECT_FALSE(expectations_.satisfied("shop/web", "10"));
  EXPECT_FALSE(expectations_.satisfied("shop/web", "11"));
  EXPECT_TRUE(expectations_.satisfied("shop/web", "14"));
}

// The newest write is what the cache shows once it caught up, often for long (nothing else
// writes a converged Deployment): it must not hold the Deployment until the expectation
// expires (the benchmark found a restore delayed by that minute).
TEST_F(WriteExpectationsTest, TheNewestWriteIsCaughtUp) {
  expectations_.expect_written("shop/web", {"10", "11", "13"}, "13");
  EXPECT_TRUE(expectations_.satisfied("shop/web", "13"));
  EXPECT_EQ(expectations_.remaining("shop/web"), kube::Duration::zero());
}

// The race the controller-kill e2e test found: kube-controller-manager writes the status
// (observedGeneration) between meshprobe's template patch and its status write. That version
// shows the rewritten template without meshprobe's condition; acting on it wrote the condition
// twice.
TEST_F(WriteExpectationsTest, AnotherWritersVersionBetweenTwoOfOursIsNotActedOn) {
  expectations_.expect_written("shop/web", {"10", "11", "13"}, "13");
  EXPECT_FALSE(expectations_.satisfied("shop/web", "12"));
  EXPECT_TRUE(expectations_.satisfied("shop/web", "15"));
}

TEST_F(WriteExpectationsTest, NonNumericVersionsCountOnlyWhenWrittenOver) {
  expectations_.expect_written("shop/web", {"a", "b"}, "b");
  EXPECT_FALSE(expectations_.satisfied("shop/web", "a"));
  EXPECT_FALSE(expectations_.satisfied("shop/web", "b")) << "which one is newest is unknown";
  EXPECT_TRUE(expectations_.satisfied("shop/web", "c"));
}

TEST_F(WriteExpectationsTest, AnExpectationExpires) {
  expectations_.expect("shop/web", {"10", "11"});
  EXPECT_EQ(expectations_.remaining("shop/web"), std::chrono::minutes(1));
  clock_.advance(std::chrono::minutes(1));
  EXPECT_TRUE(expectations_.satisfied("shop/web", "10"));
  EXPECT_EQ(expectations_.remaining("shop/web"), kube::Duration::zero());
}

TEST_F(WriteExpectationsTest, KeysAreIndependent) {
  expectations_.expect("shop/web", {"10", "11"});
  EXPECT_TRUE(expectations_.satisfied("shop/api", "10"));
}

}  // namespace
}  // namespace meshprobe::controller
