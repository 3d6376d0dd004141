#include "operator/rollout_pacer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube/fake_clock.h"

namespace meshprobe::controller {
namespace {

class RolloutPacerTest : public ::testing::Test {
 protected:
  RolloutPacer& pacer(int max_concurrent) {
    pacer_ = std::make_unique<RolloutPacer>(
        RolloutPacer::Options{max_concurrent, std::chrono::minutes(10)}, clock, metrics);
    pacer_->set_wake([this](const std::string& key) { woken.push_back(key); });
    return *pacer_;
  }
  double gauge(const std::string& name) { return metrics.gauge(name, "").labels({}).value(); }

  kube::FakeClock clock;
  kube::MetricsRegistry metrics;
  std::vector<std::string> woken;
  std::unique_ptr<RolloutPacer> pacer_;
};

TEST_F(RolloutPacerTest, AtTheLimitNewWorkloadsWaitInOrderAndAreWokenWhenARolloutFinishes) {
  RolloutPacer& p = pacer(2);
  for (const char* key : {"a", "b"}) {
    ASSERT_TRUE(p.admit(key));
    p.started(key, 2);
  }
  EXPECT_FALSE(p.admit("c"));
  EXPECT_FALSE(p.admit("d"));
  EXPECT_TRUE(p.admit("a"));  // holds a slot already (a second write of the same workload)
  EXPECT_EQ(gauge("meshprobe_rollouts_in_progress"), 2);
  EXPECT_EQ(gauge("meshprobe_rollouts_waiting"), 2);

  p.observe("a", 1, true);   // the cache still shows the version before the write
  p.observe("a", 2, false);  // written, not rolled out yet
  EXPECT_EQ(p.in_progress(), 2u);
  EXPECT_TRUE(woken.empty());

  p.observe("a", 2, true);
  EXPECT_EQ(woken, (std::vector<std::string>{"c"}));
  EXPECT_FALSE(p.admit("d"));  // c waited longer: the slot is c's
  EXPECT_FALSE(p.admit("e"));
  EXPECT_TRUE(p.admit("c"));
  p.started("c", 7);
  EXPECT_EQ(p.waiting(), 2u);
}

TEST_F(RolloutPacerTest, AWaitingWorkloadThatNoLongerNeedsAWriteLeavesTheQueue) {
  RolloutPacer& p = pacer(1);
  ASSERT_TRUE(p.admit("a"));
  p.started("a", 2);
  EXPECT_FALSE(p.admit("b"));
  EXPECT_FALSE(p.admit("c"));
  p.withdraw("b");
  p.forget("a");  // deleted: frees its slot
  EXPECT_EQ(woken, (std::vector<std::string>{"c"}));
  EXPECT_TRUE(p.admit("c"));
}

TEST_F(RolloutPacerTest, ARolloutThatNeverFinishesIsGivenUpAtTheDeadline) {
  RolloutPacer& p = pacer(1);
  ASSERT_TRUE(p.admit("stuck"));
  p.started("stuck", 2);
  EXPECT_FALSE(p.admit("next"));
  EXPECT_EQ(p.until_next_deadline(std::chrono::hours(1)), std::chrono::minutes(10));
  clock.advance(std::chrono::minutes(9));
  EXPECT_TRUE(p.expire().empty());
  EXPECT_EQ(p.until_next_deadline(std::chrono::hours(1)), std::chrono::minutes(1));
  clock.advance(std::chrono::minutes(1));
  EXPECT_EQ(p.expire(), (std::vector<std::string>{"stuck"}));
  EXPECT_EQ(woken, (std::vector<std::string>{"next"}));
  EXPECT_TRUE(p.admit("next"));
  EXPECT_EQ(metrics.counter("meshprobe_rollouts_timed_out_total", "").labels({}).value(), 1);
  // next's reservation holds the only slot now, with a deadline of its own.
  EXPECT_EQ(p.until_next_deadline(std::chrono::hours(1)), std::chrono::minutes(10));
  p.cancel("next");
  EXPECT_EQ(p.until_next_deadline(std::chrono::hours(1)), std::chrono::hours(1));
}

TEST_F(RolloutPacerTest, ZeroMeansUnlimited) {
  RolloutPacer& p = pacer(0);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(p.admit(std::to_string(i)));
    p.started(std::to_string(i), 2);
  }
  EXPECT_EQ(p.in_progress(), 0u);  // nothing tracked, nothing expires
  EXPECT_EQ(p.waiting(), 0u);
  clock.advance(std::chrono::hours(1));
  EXPECT_TRUE(p.expire().empty());
  EXPECT_EQ(metrics.counter("meshprobe_rollouts_started_total", "").labels({}).value(), 1000);
}

}  // namespace
}  // namespace meshprobe::controller

namespace meshprobe::controller {
namespace {

TEST_F(RolloutPacerTest, AdmissionReservesTheSlotUntilTheWriteStartsOrIsCancelled) {
  RolloutPacer& p = pacer(2);
  // Two workers admit before either has written: the third must wait all the same.
  ASSERT_TRUE(p.admit("a"));
  ASSERT_TRUE(p.admit("b"));
  EXPECT_FALSE(p.admit("c"));
  p.observe("b", 5, true);  // a reserved slot never counts as finished
  EXPECT_EQ(p.in_progress(), 2u);
  p.cancel("b");  // b's write failed (a conflict): its reservation is freed
  EXPECT_EQ(woken, (std::vector<std::string>{"c"}));
  p.started("a", 2);
  p.cancel("a");  // a started: cancel() leaves its slot
  EXPECT_EQ(p.in_progress(), 1u);
}

}  // namespace
}  // namespace meshprobe::controller
