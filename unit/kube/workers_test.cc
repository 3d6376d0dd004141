#include "kube/workers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube/fake_clock.h"
#include "kube/test_support.h"

namespace meshprobe::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class WorkersTest : public ::testing::Test {
 protected:
  WorkersTest() {
    workers_ = std::make_unique<Workers>(
        "deployments", queue_, [this](const std::string& key) { return next_(key); }, clock_,
        metrics_, logger_);
  }

  FakeClock clock_;
  MetricsRegistry metrics_;
  RecordingLogger logger_;
  WorkQueue queue_{"deployments", clock_, make_default_controller_rate_limiter(clock_), metrics_};
  std::function<ReconcileResult(const std::string&)> next_;
  std::unique_ptr<Workers> workers_;
};

TEST_F(WorkersTest, RetryBacksOffAndSuccessForgets) {
  int calls = 0;
  next_ = [&](const std::string& key) {
    EXPECT_EQ(key, "default/web");
    return ++calls < 3 ? ReconcileResult::retry("conflict") : ReconcileResult::done();
  };
  queue_.add("default/web");
  ASSERT_TRUE(workers_->process_next_item());
  EXPECT_EQ(queue_.num_requeues("default/web"), 1);
  clock_.advance(milliseconds(5));
  ASSERT_TRUE(workers_->process_next_item());
  clock_.advance(milliseconds(10));
  ASSERT_TRUE(workers_->process_next_item());
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(queue_.num_requeues("default/web"), 0);
  EXPECT_EQ(logger_.lines().size(), 2u);
  EXPECT_THAT(logger_.lines()[0], ::testing::HasSubstr("default/web: conflict (retry 1)"));
}

// The throttling e2e test found a reconcile retried 27 ms after a 429 once the RestClient had
// used up its own retries: the server's Retry-After holds for the work queue's retry too.
TEST_F(WorkersTest, ARetryAfterA429WaitsForItsRetryAfter) {
  ApiError throttled;
  throttled.kind = ApiErrorKind::kTooManyRequests;
  throttled.retry_after = seconds(4);
  next_ = [&](const std::string&) {
    return ReconcileResult::retry("too many requests", throttled);
  };
  queue_.add("a/b");
  ASSERT_TRUE(workers_->process_next_item());
  clock_.advance(milliseconds(3999));
  EXPECT_EQ(queue_.length(), 0u);
  clock_.advance(milliseconds(1));
  EXPECT_EQ(queue_.length(), 1u);
}

TEST_F(WorkersTest, RequeueAfterComesBackAfterTheDelay) {
  next_ = [](const std::string&) { return ReconcileResult::requeue_after(seconds(30)); };
  queue_.add("a/b");
  ASSERT_TRUE(workers_->process_next_item());
  clock_.advance(seconds(29));
  EXPECT_EQ(queue_.length(), 0u);
  clock_.advance(seconds(1));
  EXPECT_EQ(queue_.length(), 1u);
}

TEST_F(WorkersTest, TerminalErrorsAreLoggedAndNotRetried) {
  next_ = [](const std::string&) { return ReconcileResult::terminal("bad spec"); };
  queue_.add("a/b");
  ASSERT_TRUE(workers_->process_next_item());
  clock_.advance(seconds(1000));
  EXPECT_EQ(queue_.length(), 0u);
  EXPECT_EQ(metrics_.counter("controller_runtime_reconcile_total", "")
                .labels({"deployments", "terminal_error"})
                .value(),
            1.0);
}

TEST_F(WorkersTest, ThreadsProcessEverythingAndStop) {
  std::atomic<int> calls{0};
  next_ = [&](const std::string&) {
    ++calls;
    return ReconcileResult::done();
  };
  workers_->start(3);
  for (int index = 0; index < 50; ++index) queue_.add("ns/" + std::to_string(index));
  queue_.shut_down_with_drain();
  workers_->stop();
  EXPECT_EQ(calls.load(), 50);
}

}  // namespace
}  // namespace meshprobe::kube
