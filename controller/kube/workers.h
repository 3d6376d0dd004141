// Workers: N threads that take keys from a WorkQueue and hand them to a reconcile function,
// with controller-runtime's handling of its result. Reconcile never learns which event woke it.
// Fenced like controller-runtime's cancelled context: once stop() is called or the token given
// to start() is stopped (leadership lost), no reconcile starts, even for keys still queued, and
// the reconciles in flight see their stop token stopped, to check between writes.
// Metrics: controller-runtime's controller_runtime_* with its meaning, labelled by `name`:
//   reconcile_total{result}: success, requeue_after, error (retried and terminal alike);
//   reconcile_errors_total; terminal_reconcile_errors_total; reconcile_time_seconds;
//   max_concurrent_reconciles (start()'s count); active_workers (reconciling now).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <unordered_map>
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

// `stop` is stopped when the reconcile should give up (leadership lost, or stopping): check it
// between writes; the API client refuses writes then anyway (RestClient::fence_writes).
using ReconcileFunction =
    std::function<ReconcileResult(const std::string& key, std::stop_token stop)>;
// A reconcile that never checks the token.
using SimpleReconcileFunction = std::function<ReconcileResult(const std::string& key)>;

class Workers {
 public:
  // `name` labels the controller's metrics and log lines.
  Workers(std::string name, WorkQueue& queue, ReconcileFunction reconcile, Clock& clock,
          MetricsRegistry& metrics, Logger& logger);
  Workers(std::string name, WorkQueue& queue, SimpleReconcileFunction reconcile, Clock& clock,
          MetricsRegistry& metrics, Logger& logger);
  ~Workers();

  // Starts `count` threads. When `fence` is stopped the workers stop as by stop(), without
  // joining (the caller's thread may be a timer's).
  void start(int count, std::stop_token fence = {});
  // Stops the workers: no reconcile starts any more (queued keys stay queued), the ones in
  // flight see their token stopped and finish; shuts the queue down and joins the threads.
  void stop();

  // One get/reconcile/done round on the calling thread; false when the queue is shut down or
  // the workers are stopped (a key taken then is put back as done, not reconciled). What each
  // worker thread loops on; unit tests call it directly.
  bool process_next_item();

 private:
  std::string name_;
  WorkQueue& queue_;
  void request_stop();

  ReconcileFunction reconcile_;
  Clock& clock_;
  Logger& logger_;
  CounterFamily& results_;
  Counter& errors_;
  Counter& terminal_errors_;
  Histogram& duration_;
  Gauge& max_concurrent_;
  Gauge& active_;
  std::stop_source stop_;
  std::unique_ptr<std::stop_callback<std::function<void()>>> fence_callback_;
  // Keys whose last reconcile the API server asked to wait (a 429's Retry-After, in a retry's
  // `after`), until when: the key may be added again sooner (a watch event of the object), and
  // is then put off until that time instead of sending its requests into the throttle again.
  std::mutex not_before_mutex_;
  std::unordered_map<std::string, MonotonicTime> not_before_;
  std::vector<std::thread> threads_;
};

}  // namespace meshprobe::kube
