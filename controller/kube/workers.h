// Workers: N threads that take keys from a WorkQueue and hand them to a reconcile function,
// with controller-runtime's handling of its result. Reconcile never learns which event woke it.
#pragma once

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "kube/api_error.h"
#include "kube/logger.h"
#include "kube/metrics.h"
#include "kube/work_queue.h"

namespace meshprobe::kube {

struct ReconcileResult {
  enum class Kind {
    kDone,          // converged: forget the item's failures
    kRequeueAfter,  // converged for now, look again after `after`
    kRetry,         // failed, retry with the rate limiter's backoff (not before `after`, if set)
    kTerminal,      // failed in a way retrying cannot fix (bad input): logged, not retried
  };
  Kind kind = Kind::kDone;
  Duration after{};
  std::string error;

  static ReconcileResult done() { return {}; }
  static ReconcileResult requeue_after(Duration delay) { return {Kind::kRequeueAfter, delay, {}}; }
  // `not_before`: the API server asked for that much patience (a 429's Retry-After, once the
  // RestClient's own retries are used up): the retry waits that long instead of the rate
  // limiter's few milliseconds.
  static ReconcileResult retry(std::string error, Duration not_before = {}) {
    return {Kind::kRetry, not_before, std::move(error)};
  }
  static ReconcileResult retry(std::string error, const ApiError& cause) {
    return retry(std::move(error), Duration(cause.retry_after.value_or(std::chrono::seconds(0))));
  }
  static ReconcileResult terminal(std::string error) {
    return {Kind::kTerminal, {}, std::move(error)};
  }
};

using ReconcileFunction = std::function<ReconcileResult(const std::string& key)>;

class Workers {
 public:
  // `name` labels the controller's metrics and log lines.
  Workers(std::string name, WorkQueue& queue, ReconcileFunction reconcile, Clock& clock,
          MetricsRegistry& metrics, Logger& logger);
  ~Workers();

  void start(int count);
  // Shuts the queue down, lets in-flight reconciles finish, joins the threads.
  void stop();

  // One get/reconcile/done round on the calling thread; false when the queue is shut down.
  // What each worker thread loops on; unit tests call it directly.
  bool process_next_item();

 private:
  std::string name_;
  WorkQueue& queue_;
  ReconcileFunction reconcile_;
  Clock& clock_;
  Logger& logger_;
  CounterFamily& results_;
  Counter& errors_;
  Histogram& duration_;
  Gauge& active_;
  std::vector<std::thread> threads_;
};

}  // namespace meshprobe::kube
