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
  // Read at 10, template patch gave 11, status write 13.
  expectations_.expect("shop/web", {"10", "11", "13"});
  EXPECT_FALSE(expectations_.satisfied("shop/web", "10"));
  EXPECT_FALSE(expectations_.satisfied("shop/web", "11"));
  EXPECT_FALSE(expectations_.satisfied("shop/web", "13"));
  EXPECT_TRUE(expectations_.satisfied("shop/web", "14"));
  EXPECT_TRUE(expectations_.satisfied("shop/web", "13")) << "fulfilled expectations are forgotten";
}

// The race the controller-kill e2e test found: kube-controller-manager writes the status
// (observedGeneration) between meshprobe's template patch and its status write. That version
// shows the rewritten template without meshprobe's condition; acting on it wrote the condition
// twice.
TEST_F(WriteExpectationsTest, AnotherWritersVersionBetweenTwoOfOursIsNotActedOn) {
  expectations_.expect("shop/web", {"10", "11", "13"});
  EXPECT_FALSE(expectations_.satisfied("shop/web", "12"));
  EXPECT_TRUE(expectations_.satisfied("shop/web", "15"));
}

TEST_F(WriteExpectationsTest, NonNumericVersionsCountOnlyWhenWrittenOver) {
  expectations_.expect("shop/web", {"a", "b"});
  EXPECT_FALSE(expectations_.satisfied("shop/web", "b"));
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
