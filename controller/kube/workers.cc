#include "kube/workers.h"

namespace meshprobe::kube {

Workers::Workers(std::string name, WorkQueue& queue, ReconcileFunction reconcile, Clock& clock,
                 MetricsRegistry& metrics, Logger& logger)
    : name_(std::move(name)),
      queue_(queue),
      reconcile_(std::move(reconcile)),
      clock_(clock),
      logger_(logger),
      results_(metrics.counter("controller_runtime_reconcile_total",
                               "Reconciliations per controller and result.",
                               {"controller", "result"})),
      errors_(metrics
                  .counter("controller_runtime_reconcile_errors_total",
                           "Reconciliations that failed.", {"controller"})
                  .labels({name_})),
      duration_(metrics
                    .histogram("controller_runtime_reconcile_time_seconds",
                               "Seconds per reconciliation.", {"controller"})
                    .labels({name_})),
      active_(metrics
                  .gauge("controller_runtime_active_workers", "Workers currently reconciling.",
                         {"controller"})
                  .labels({name_})) {}

Workers::~Workers() { stop(); }

void Workers::start(int count) {
  for (int index = 0; index < count; ++index) {
    threads_.emplace_back([this] {
      while (process_next_item()) {
      }
    });
  }
}

void Workers::stop() {
  queue_.shut_down();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

bool Workers::process_next_item() {
  std::optional<std::string> key = queue_.get();
  if (!key) return false;
  active_.add(1);
  const MonotonicTime started = clock_.now();
  ReconcileResult result = reconcile_(*key);
  duration_.observe(std::chrono::duration<double>(clock_.now() - started).count());
  active_.add(-1);
  switch (result.kind) {
    case ReconcileResult::Kind::kDone:
      results_.labels({name_, "success"}).increment();
      queue_.forget(*key);
      break;
    case ReconcileResult::Kind::kRequeueAfter:
      results_.labels({name_, "requeue_after"}).increment();
      queue_.forget(*key);
      queue_.add_after(*key, result.after);
      break;
    case ReconcileResult::Kind::kRetry:
      results_.labels({name_, "error"}).increment();
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
      results_.labels({name_, "terminal_error"}).increment();
      errors_.increment();
      logger_.error(name_ + ": " + *key + ": " + result.error + " (not retried)");
      queue_.forget(*key);
      break;
  }
  queue_.done(*key);
  return true;
}

}  // namespace meshprobe::kube
