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

// The throttling e2e test again: a watch event of the object added the key back 0.2 s after its
// reconcile had been told to wait; the key is put off until the Retry-After has passed.
TEST_F(WorkersTest, AKeyAddedAgainBeforeItsRetryAfterWaitsForIt) {
  ApiError throttled;
  throttled.kind = ApiErrorKind::kTooManyRequests;
  throttled.retry_after = seconds(2);
  int calls = 0;
  next_ = [&](const std::string&) {
    return ++calls == 1 ? ReconcileResult::retry("too many requests", throttled)
                        : ReconcileResult::done();
  };
  queue_.add("a/b");
  ASSERT_TRUE(workers_->process_next_item());
  clock_.advance(milliseconds(200));
  queue_.add("a/b");  // the watch event
  ASSERT_TRUE(workers_->process_next_item());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(queue_.length(), 0u);
  clock_.advance(milliseconds(1800));
  ASSERT_EQ(queue_.length(), 1u);
  ASSERT_TRUE(workers_->process_next_item());
  EXPECT_EQ(calls, 2);
  // Done: a later add is reconciled at once.
  queue_.add("a/b");
  ASSERT_TRUE(workers_->process_next_item());
  EXPECT_EQ(calls, 3);
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
  // controller-runtime: a terminal error is result "error" like any other, and counts in
  // terminal_reconcile_errors_total too.
  EXPECT_EQ(metrics_.counter("controller_runtime_reconcile_total", "")
                .labels({"deployments", "error"})
                .value(),
            1.0);
  EXPECT_EQ(metrics_.counter("controller_runtime_reconcile_errors_total", "")
                .labels({"deployments"})
                .value(),
            1.0);
  EXPECT_EQ(metrics_.counter("controller_runtime_terminal_reconcile_errors_total", "")
                .labels({"deployments"})
                .value(),
            1.0);
}

TEST_F(WorkersTest, MetricsAsControllerRuntimeExportsThem) {
  const std::string text = metrics_.render();
  for (const char* result : {"error", "requeue_after", "requeue", "success"}) {
    EXPECT_THAT(text,
                ::testing::HasSubstr(
                    std::string("controller_runtime_reconcile_total{controller=\"deployments\","
                                "result=\"") +
                    result + "\"} 0"));
  }
  next_ = [](const std::string&) { return ReconcileResult::done(); };
  workers_->start(3);
  EXPECT_EQ(metrics_.gauge("controller_runtime_max_concurrent_reconciles", "")
                .labels({"deployments"})
                .value(),
            3.0);
  workers_->stop();
}

// Issue 17: after Workers::stop() (the Lease lost, or SIGTERM) client-go's queue still hands
// out every queued key; not one of them may be reconciled.
TEST_F(WorkersTest, NoReconcileStartsAfterStopEvenForQueuedKeys) {
  int calls = 0;
  next_ = [&](const std::string&) {
    ++calls;
    return ReconcileResult::done();
  };
  for (int index = 0; index < 300; ++index) queue_.add("ns/app-" + std::to_string(index));
  workers_->stop();
  EXPECT_FALSE(workers_->process_next_item());
  EXPECT_EQ(calls, 0);
}

TEST_F(WorkersTest, LosingTheFenceTokenStopsWorkersAndInFlightReconcilesSeeIt) {
  std::stop_source leading;
  std::vector<std::string> reconciled;
  bool saw_stop = false;
  WorkQueue queue{"fenced", clock_, make_default_controller_rate_limiter(clock_), metrics_};
  Workers workers(
      "fenced", queue,
      [&](const std::string& key, std::stop_token stop) {
        reconciled.push_back(key);
        EXPECT_FALSE(stop.stop_requested());
        leading.request_stop();  // the renew deadline passes while this reconcile runs
        saw_stop = stop.stop_requested();
        return ReconcileResult::retry("fenced");
      },
      clock_, metrics_, logger_);
  workers.start(0, leading.get_token());
  queue.add("ns/a");
  queue.add("ns/b");
  ASSERT_TRUE(workers.process_next_item());
  EXPECT_TRUE(saw_stop);
  EXPECT_FALSE(workers.process_next_item());
  EXPECT_EQ(reconciled, std::vector<std::string>{"ns/a"});
  clock_.advance(seconds(1));
  EXPECT_EQ(queue.delayed_length() + queue.length(), 0u)
      << "nothing is retried once stopped (b was taken, not reconciled)";
}

TEST_F(WorkersTest, WorkerThreadsStopReconcilingAtOnceWhenLeadershipIsLost) {
  std::stop_source leading;
  std::atomic<int> calls{0};
  WorkQueue queue{"fenced", clock_, make_default_controller_rate_limiter(clock_), metrics_};
  Workers workers(
      "fenced", queue,
      [&](const std::string&, std::stop_token) {
        if (++calls == 1) leading.request_stop();
        return ReconcileResult::done();
      },
      clock_, metrics_, logger_);
  for (int index = 0; index < 300; ++index) queue.add("ns/app-" + std::to_string(index));
  workers.start(2, leading.get_token());
  while (!queue.shutting_down()) std::this_thread::yield();
  workers.stop();
  EXPECT_LE(calls.load(), 2) << "only the reconciles already in flight";
  EXPECT_GE(queue.length(), 295u) << "each worker takes at most one more key, and drops it";
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
