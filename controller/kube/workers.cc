#include "kube/workers.h"

namespace meshprobe::kube {
namespace {

// controller-runtime's buckets of controller_runtime_reconcile_time_seconds.
std::vector<double> reconcile_time_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1,  0.15, 0.2,  0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6,
          0.7,   0.8,  0.9,   1.0,  1.25, 1.5,  1.75, 2.0,  2.5, 3.0,  3.5, 4.0,  4.5, 5,
          6,     7,    8,     9,    10,   15,   20,   25,   30,  40,   50,  60};
}

// controller-runtime's values of the `result` label.
constexpr const char* kResultError = "error";
constexpr const char* kResultRequeueAfter = "requeue_after";
constexpr const char* kResultRequeue = "requeue";
constexpr const char* kResultSuccess = "success";

}  // namespace

Workers::Workers(std::string name, WorkQueue& queue, ReconcileFunction reconcile, Clock& clock,
                 MetricsRegistry& metrics, Logger& logger)
    : name_(std::move(name)),
      queue_(queue),
      reconcile_(std::move(reconcile)),
      clock_(clock),
      logger_(logger),
      results_(metrics.counter("controller_runtime_reconcile_total",
                               "Total number of reconciliations per controller.",
                               {"controller", "result"})),
      errors_(metrics
                  .counter("controller_runtime_reconcile_errors_total",
                           "Total number of reconciliation errors per controller.", {"controller"})
                  .labels({name_})),
      terminal_errors_(metrics
                           .counter("controller_runtime_terminal_reconcile_errors_total",
                                    "Total number of terminal reconciliation errors per "
                                    "controller.",
                                    {"controller"})
                           .labels({name_})),
      duration_(metrics
                    .histogram("controller_runtime_reconcile_time_seconds",
                               "Length of time per reconciliation per controller.", {"controller"},
                               reconcile_time_buckets())
                    .labels({name_})),
      max_concurrent_(metrics
                          .gauge("controller_runtime_max_concurrent_reconciles",
                                 "Maximum number of concurrent reconciles per controller.",
                                 {"controller"})
                          .labels({name_})),
      active_(metrics
                  .gauge("controller_runtime_active_workers",
                         "Number of currently used workers per controller.", {"controller"})
                  .labels({name_})) {
  // Every result is exported from the start, at 0, as controller-runtime does.
  for (const char* result : {kResultError, kResultRequeueAfter, kResultRequeue, kResultSuccess}) {
    results_.labels({name_, result});
  }
}

Workers::Workers(std::string name, WorkQueue& queue, SimpleReconcileFunction reconcile,
                 Clock& clock, MetricsRegistry& metrics, Logger& logger)
    : Workers(std::move(name), queue,
              ReconcileFunction(
                  [reconcile = std::move(reconcile)](const std::string& key, std::stop_token) {
                    return reconcile(key);
                  }),
              clock, metrics, logger) {}

Workers::~Workers() { stop(); }

void Workers::start(int count, std::stop_token fence) {
  if (fence.stop_possible()) {
    fence_callback_ = std::make_unique<std::stop_callback<std::function<void()>>>(
        fence, std::function<void()>([this] { request_stop(); }));
  }
  max_concurrent_.set(count);
  for (int index = 0; index < count; ++index) {
    threads_.emplace_back([this] {
      while (process_next_item()) {
      }
    });
  }
}

void Workers::request_stop() {
  stop_.request_stop();
  queue_.shut_down();  // wakes the workers blocked in get()
}

void Workers::stop() {
  request_stop();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
  fence_callback_.reset();
}

bool Workers::process_next_item() {
  std::optional<std::string> key = queue_.get();
  if (!key) return false;
  if (stop_.stop_requested()) {
    // Fenced: no reconcile starts after a stop, though client-go's queue still hands out
    // what it holds.
    queue_.done(*key);
    return false;
  }
  {
    std::lock_guard lock(not_before_mutex_);
    auto waiting = not_before_.find(*key);
    if (waiting != not_before_.end()) {
      const MonotonicTime now = clock_.now();
      if (now < waiting->second) {
        queue_.add_after(*key, waiting->second - now);
        queue_.done(*key);
        return true;
      }
      not_before_.erase(waiting);
    }
  }
  active_.add(1);
  const MonotonicTime started = clock_.now();
  ReconcileResult result = reconcile_(*key, stop_.get_token());
  if (result.kind == ReconcileResult::Kind::kRetry && result.after > Duration::zero()) {
    std::lock_guard lock(not_before_mutex_);
    not_before_[*key] = clock_.now() + result.after;
  }
  switch (result.kind) {
    case ReconcileResult::Kind::kDone:
      results_.labels({name_, kResultSuccess}).increment();
      queue_.forget(*key);
      break;
    case ReconcileResult::Kind::kRequeueAfter:
      results_.labels({name_, kResultRequeueAfter}).increment();
      queue_.forget(*key);
      queue_.add_after(*key, result.after);
      break;
    case ReconcileResult::Kind::kRetry:
      results_.labels({name_, kResultError}).increment();
      errors_.increment();
      logger_.warning(name_ + ": " + *key + ": " + result.error + " (retry " +
                      std::to_string(queue_.num_requeues(*key) + 1) + ")");
      if (result.after > Duration::zero()) {
        queue_.add_after(*key, result.after);
      } else {
        queue_.add_rate_limited(*key);
      }
      break;
    case ReconcileResult::Kind::kTerminal:
      // controller-runtime: result "error" like any error, and the terminal counter too.
      results_.labels({name_, kResultError}).increment();
      errors_.increment();
      terminal_errors_.increment();
      logger_.error(name_ + ": " + *key + ": " + result.error + " (not retried)");
      queue_.forget(*key);
      break;
  }
  // controller-runtime times the whole handler, the queue's bookkeeping included.
  duration_.observe(std::chrono::duration<double>(clock_.now() - started).count());
  active_.add(-1);
  queue_.done(*key);
  return true;
}

}  // namespace meshprobe::kube
