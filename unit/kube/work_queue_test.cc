#include "kube/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "kube/fake_clock.h"

namespace meshprobe::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class WorkQueueTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  MetricsRegistry metrics_;
  WorkQueue queue_{"test", clock_, make_default_controller_rate_limiter(clock_), metrics_};

  double metric(const std::string& family, bool histogram_count = false) {
    if (histogram_count) {
      return static_cast<double>(metrics_.histogram(family, "").labels({"test"}).snapshot().count);
    }
    if (family == "workqueue_depth") return metrics_.gauge(family, "").labels({"test"}).value();
    return metrics_.counter(family, "").labels({"test"}).value();
  }
};

TEST_F(WorkQueueTest, HandsItemsOutInTheOrderTheyWereFirstAdded) {
  queue_.add("b");
  queue_.add("a");
  queue_.add("b");
  queue_.add("c");
  EXPECT_EQ(queue_.length(), 3u);
  EXPECT_EQ(queue_.get(), "b");
  EXPECT_EQ(queue_.get(), "a");
  EXPECT_EQ(queue_.get(), "c");
}

TEST_F(WorkQueueTest, AnItemBeingProcessedIsNotHandedOutAgainUntilDone) {
  queue_.add("a");
  ASSERT_EQ(queue_.get(), "a");
  queue_.add("a");
  queue_.add("a");
  EXPECT_EQ(queue_.length(), 0u) << "dirty while processing: held back";
  queue_.done("a");
  EXPECT_EQ(queue_.length(), 1u) << "re-added while processing: runs once more";
  EXPECT_EQ(queue_.get(), "a");
  queue_.done("a");
  EXPECT_EQ(queue_.length(), 0u);
}

TEST_F(WorkQueueTest, DoneWithoutReAddDropsTheItem) {
  queue_.add("a");
  ASSERT_EQ(queue_.get(), "a");
  queue_.done("a");
  queue_.shut_down();
  EXPECT_EQ(queue_.get(), std::nullopt);
}

TEST_F(WorkQueueTest, AddAfterWaitsOnTheClockAndKeepsTheEarlierDeadline) {
  queue_.add_after("a", seconds(10));
  queue_.add_after("a", seconds(3));
  queue_.add_after("a", seconds(20));
  queue_.add_after("b", seconds(5));
  EXPECT_EQ(queue_.delayed_length(), 2u);
  clock_.advance(milliseconds(2999));
  EXPECT_EQ(queue_.length(), 0u);
  clock_.advance(milliseconds(1));
  EXPECT_EQ(queue_.length(), 1u);
  EXPECT_EQ(queue_.get(), "a");
  clock_.advance(seconds(2));
  EXPECT_EQ(queue_.get(), "b");
  clock_.advance(seconds(30));
  EXPECT_EQ(queue_.length(), 0u) << "the later deadlines of a were dropped";
  queue_.done("a");
  queue_.done("b");  // in flight, they keep the unfinished-work gauges' timer
  EXPECT_EQ(clock_.pending_timers(), 0u);
}

TEST_F(WorkQueueTest, AddAfterZeroAddsNow) {
  queue_.add_after("a", Duration::zero());
  EXPECT_EQ(queue_.length(), 1u);
}

TEST_F(WorkQueueTest, AddRateLimitedBacksOffPerItemAndForgetResets) {
  queue_.add_rate_limited("a");  // 5 ms
  clock_.advance(milliseconds(5));
  ASSERT_EQ(queue_.get(), "a");
  queue_.done("a");
  queue_.add_rate_limited("a");  // 10 ms
  clock_.advance(milliseconds(9));
  EXPECT_EQ(queue_.length(), 0u);
  clock_.advance(milliseconds(1));
  EXPECT_EQ(queue_.length(), 1u);
  EXPECT_EQ(queue_.num_requeues("a"), 2);
  queue_.forget("a");
  EXPECT_EQ(queue_.num_requeues("a"), 0);
  EXPECT_EQ(metric("workqueue_retries_total"), 2.0);
}

TEST_F(WorkQueueTest, ShutDownHandsOutWhatIsQueuedThenStopsAndIgnoresAdds) {
  queue_.add("a");
  queue_.add_after("b", seconds(1));
  queue_.shut_down();
  queue_.add("c");
  EXPECT_TRUE(queue_.shutting_down());
  EXPECT_EQ(queue_.get(), "a");
  EXPECT_EQ(queue_.get(), std::nullopt);
  clock_.advance(seconds(2));
  EXPECT_EQ(queue_.get(), std::nullopt) << "delayed items are dropped";
}

TEST_F(WorkQueueTest, GetBlocksUntilAnItemArrivesOrShutDown) {
  std::atomic<int> got{0};
  std::thread worker([&] {
    while (auto item = queue_.get()) {
      ++got;
      queue_.done(*item);
    }
  });
  queue_.add("a");
  queue_.add("b");
  queue_.shut_down_with_drain();
  worker.join();
  EXPECT_EQ(got.load(), 2);
}

TEST_F(WorkQueueTest, ShutDownWithDrainWaitsForInFlightItems) {
  queue_.add("a");
  ASSERT_EQ(queue_.get(), "a");
  std::atomic<bool> drained{false};
  std::thread stopper([&] {
    queue_.shut_down_with_drain();
    drained = true;
  });
  while (!queue_.shutting_down()) std::this_thread::yield();
  EXPECT_FALSE(drained.load());
  queue_.done("a");
  stopper.join();
  EXPECT_TRUE(drained.load());
}

// client-go's meaning of each workqueue_* metric (util/workqueue queue.go, metrics.go,
// delaying_queue.go), so that dashboards and alerts written for client-go controllers read ours
// right. Issue 17 found adds_total counting before deduplication.
TEST_F(WorkQueueTest, AddsTotalCountsAddsAfterDeduplicationAsClientGo) {
  queue_.add("a");
  queue_.add("a");  // already waiting: client-go's Add returns before metrics.add
  queue_.add("b");
  EXPECT_EQ(metric("workqueue_adds_total"), 2.0);
  EXPECT_EQ(metric("workqueue_depth"), 2.0);
  ASSERT_EQ(queue_.get(), "a");
  queue_.add("a");  // while processing: dirty again, an add (and depth) in client-go
  queue_.add("a");
  EXPECT_EQ(metric("workqueue_adds_total"), 3.0);
  EXPECT_EQ(metric("workqueue_depth"), 2.0) << "b waiting, a dirty while it is processed";
}

TEST_F(WorkQueueTest, DepthCountsDirtyItemsAndDropsOnGet) {
  queue_.add("a");
  queue_.add("b");
  ASSERT_EQ(queue_.get(), "a");
  EXPECT_EQ(metric("workqueue_depth"), 1.0);
  queue_.done("a");
  EXPECT_EQ(metric("workqueue_depth"), 1.0);
  ASSERT_EQ(queue_.get(), "b");
  EXPECT_EQ(metric("workqueue_depth"), 0.0);
}

TEST_F(WorkQueueTest, QueueDurationRunsFromTheAddEvenWhileTheItemWasProcessed) {
  queue_.add("a");
  clock_.advance(seconds(2));
  ASSERT_EQ(queue_.get(), "a");
  queue_.add("a");  // while processing: client-go's addTimes starts now, not at done()
  clock_.advance(seconds(3));
  queue_.done("a");
  clock_.advance(seconds(1));
  ASSERT_EQ(queue_.get(), "a");
  auto waited =
      metrics_.histogram("workqueue_queue_duration_seconds", "").labels({"test"}).snapshot();
  EXPECT_EQ(waited.count, 2u);
  EXPECT_DOUBLE_EQ(waited.sum, 2.0 + 4.0);
  auto worked =
      metrics_.histogram("workqueue_work_duration_seconds", "").labels({"test"}).snapshot();
  EXPECT_EQ(worked.count, 1u);
  EXPECT_DOUBLE_EQ(worked.sum, 3.0);
}

TEST_F(WorkQueueTest, RetriesCountEveryDelayedAddAsClientGosAddAfter) {
  queue_.add_after("a", seconds(1));
  queue_.add_after("b", Duration::zero());
  queue_.add_rate_limited("c");
  EXPECT_EQ(metric("workqueue_retries_total"), 3.0);
  queue_.shut_down();
  queue_.add_after("d", seconds(1));
  EXPECT_EQ(metric("workqueue_retries_total"), 3.0) << "not while shutting down";
}

TEST_F(WorkQueueTest, UnfinishedWorkGaugesFollowInFlightItemsEveryHalfSecond) {
  auto gauge = [&](const std::string& family) {
    return metrics_.gauge(family, "").labels({"test"}).value();
  };
  queue_.add("a");
  queue_.add("b");
  ASSERT_EQ(queue_.get(), "a");
  clock_.advance(seconds(1));
  ASSERT_EQ(queue_.get(), "b");
  clock_.advance(milliseconds(500));
  EXPECT_DOUBLE_EQ(gauge("workqueue_unfinished_work_seconds"), 1.5 + 0.5);
  EXPECT_DOUBLE_EQ(gauge("workqueue_longest_running_processor_seconds"), 1.5);
  queue_.done("a");
  queue_.done("b");
  EXPECT_EQ(gauge("workqueue_unfinished_work_seconds"), 0.0);
  EXPECT_EQ(gauge("workqueue_longest_running_processor_seconds"), 0.0);
  EXPECT_EQ(clock_.pending_timers(), 0u) << "an idle queue keeps no timer";
}

}  // namespace
}  // namespace meshprobe::kube
