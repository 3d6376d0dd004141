// WorkQueue: client-go's rate-limiting work queue of object keys ("namespace/name").
// - Fair: items are handed out in the order they were first added.
// - Stingy: an item waiting in the queue is held once however often it is added (dirty set),
//   and an item is never handed to two workers at once (processing set); one added again
//   while it is processed is queued again when the worker calls done().
// - Delays (addAfter, addRateLimited) run on the injected Clock; an item already waiting
//   keeps the earlier of its two deadlines.
// Workers: get() -> reconcile -> forget() on success or add_rate_limited() on failure -> done().
// Metrics: client-go's workqueue_* with client-go's meaning (util/workqueue metrics.go, queue.go,
// delaying_queue.go), labelled by the queue's name:
//   adds_total          adds that made an item dirty (an add of an item already waiting is not
//                       one; an add while it is processed is)
//   depth               dirty items: waiting, or added again while processed
//   queue_duration      from the add that made an item dirty until get()
//   work_duration       from get() until done()
//   retries_total       every add_after() and add_rate_limited(), whatever the delay
//   unfinished_work_seconds, longest_running_processor_seconds: the sum and the longest of
//                       the in-flight items' processing times, refreshed every 500 ms
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "kube/clock.h"
#include "kube/metrics.h"
#include "kube/rate_limiter.h"

namespace meshprobe::kube {

class WorkQueue {
 public:
  // `name` labels the queue's metrics (workqueue_* as client-go names them).
  WorkQueue(std::string name, Clock& clock, RateLimiterPtr rate_limiter, MetricsRegistry& metrics);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void add(const std::string& item);
  void add_after(const std::string& item, Duration delay);
  void add_rate_limited(const std::string& item);
  void forget(const std::string& item);
  int num_requeues(const std::string& item) const;

  // Blocks until an item is ready; nullopt once the queue is shut down and empty.
  std::optional<std::string> get();
  // The worker finished `item` (whatever the outcome).
  void done(const std::string& item);

  // Items ready to be handed out (not the delayed ones, not those being processed).
  std::size_t length() const;
  std::size_t delayed_length() const;

  // Stops accepting items and drops delayed ones; items already queued are still handed out,
  // then get() returns nullopt.
  void shut_down();
  // shut_down(), then waits until every queued and in-flight item is done.
  void shut_down_with_drain();
  bool shutting_down() const;

 private:
  void add_locked(const std::string& item, std::unique_lock<std::mutex>& lock);
  // Makes timer_ fire at the earliest deadline; returns the timer it replaced, for the caller
  // to destroy after unlocking.
  TimerPtr reschedule_locked();
  void on_timer();
  // Sets the unfinished-work gauges and keeps their 500 ms refresh running while items are
  // processed; returns a timer it replaced, for the caller to destroy after unlocking.
  TimerPtr update_unfinished_work_locked();

  std::string name_;
  Clock& clock_;
  RateLimiterPtr rate_limiter_;

  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::condition_variable drained_;
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;
  std::unordered_map<std::string, MonotonicTime> processing_;  // item -> when it was handed out
  std::unordered_map<std::string, MonotonicTime> added_at_;    // for the queue-latency metric
  std::unordered_map<std::string, MonotonicTime> waiting_;     // delayed item -> deadline
  std::multimap<MonotonicTime, std::string> waiting_by_deadline_;
  TimerPtr timer_;
  std::optional<MonotonicTime> timer_deadline_;
  bool shutting_down_ = false;
  TimerPtr unfinished_work_timer_;

  Gauge& depth_;
  Counter& adds_;
  Counter& retries_;
  Histogram& queue_duration_;
  Histogram& work_duration_;
  Gauge& unfinished_work_;
  Gauge& longest_running_processor_;
};

}  // namespace meshprobe::kube
