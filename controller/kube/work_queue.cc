#include "kube/work_queue.h"

#include <algorithm>
#include <utility>

namespace meshprobe::kube {
namespace {

double seconds(Duration duration) { return std::chrono::duration<double>(duration).count(); }

// How often client-go refreshes the unfinished-work gauges (defaultUnfinishedWorkUpdatePeriod).
constexpr Duration kUnfinishedWorkUpdatePeriod = std::chrono::milliseconds(500);

}  // namespace

WorkQueue::WorkQueue(std::string name, Clock& clock, RateLimiterPtr rate_limiter,
                     MetricsRegistry& metrics)
    : name_(std::move(name)),
      clock_(clock),
      rate_limiter_(std::move(rate_limiter)),
      depth_(metrics.gauge("workqueue_depth", "Current depth of workqueue.", {"name"})
                 .labels({name_})),
      adds_(metrics
                .counter("workqueue_adds_total", "Total number of adds handled by workqueue.",
                         {"name"})
                .labels({name_})),
      retries_(metrics
                   .counter("workqueue_retries_total",
                            "Total number of retries handled by workqueue (every delayed or "
                            "rate-limited add).",
                            {"name"})
                   .labels({name_})),
      queue_duration_(metrics
                          .histogram("workqueue_queue_duration_seconds",
                                     "How long in seconds an item stays in workqueue before being "
                                     "requested.",
                                     {"name"})
                          .labels({name_})),
      work_duration_(metrics
                         .histogram("workqueue_work_duration_seconds",
                                    "How long in seconds processing an item from workqueue takes.",
                                    {"name"})
                         .labels({name_})),
      unfinished_work_(metrics
                           .gauge("workqueue_unfinished_work_seconds",
                                  "How many seconds of work has been done that is in progress and "
                                  "hasn't been observed by work_duration.",
                                  {"name"})
                           .labels({name_})),
      longest_running_processor_(metrics
                                     .gauge("workqueue_longest_running_processor_seconds",
                                            "How many seconds has the longest running processor "
                                            "for workqueue been running.",
                                            {"name"})
                                     .labels({name_})) {}

WorkQueue::~WorkQueue() {
  TimerPtr timer;
  TimerPtr unfinished_work_timer;
  {
    std::lock_guard lock(mutex_);
    timer = std::move(timer_);
    unfinished_work_timer = std::move(unfinished_work_timer_);
  }
  // Destroyed outside the lock: the callbacks take it.
}

void WorkQueue::add(const std::string& item) {
  std::unique_lock lock(mutex_);
  add_locked(item, lock);
}

void WorkQueue::add_locked(const std::string& item, std::unique_lock<std::mutex>& lock) {
  if (shutting_down_) return;
  if (!dirty_.insert(item).second) return;  // already waiting to be handed out: not an add
  adds_.increment();
  depth_.set(static_cast<double>(dirty_.size()));
  added_at_.emplace(item, clock_.now());   // the queue latency runs from here, as in client-go
  if (processing_.contains(item)) return;  // queued again by done()
  queue_.push_back(item);
  ready_.notify_one();
}

void WorkQueue::add_after(const std::string& item, Duration delay) {
  TimerPtr replaced;  // destroyed after the lock is released: its callback takes the lock
  std::unique_lock lock(mutex_);
  if (shutting_down_) return;
  retries_.increment();  // client-go counts every AddAfter, rate-limited or not, even without delay
  if (delay <= Duration::zero()) {
    add_locked(item, lock);
    return;
  }
  const MonotonicTime deadline = clock_.now() + delay;
  auto existing = waiting_.find(item);
  if (existing != waiting_.end()) {
    if (existing->second <= deadline) return;  // the earlier deadline wins
    auto range = waiting_by_deadline_.equal_range(existing->second);
    for (auto it = range.first; it != range.second; ++it) {
      if (it->second == item) {
        waiting_by_deadline_.erase(it);
        break;
      }
    }
    existing->second = deadline;
  } else {
    waiting_.emplace(item, deadline);
  }
  waiting_by_deadline_.emplace(deadline, item);
  replaced = reschedule_locked();
}

TimerPtr WorkQueue::reschedule_locked() {
  if (waiting_by_deadline_.empty() || shutting_down_) return nullptr;
  const MonotonicTime earliest = waiting_by_deadline_.begin()->first;
  if (timer_deadline_ && *timer_deadline_ <= earliest) return nullptr;
  timer_deadline_ = earliest;
  return std::exchange(timer_, clock_.schedule(earliest, [this] { on_timer(); }));
}

void WorkQueue::on_timer() {
  TimerPtr replaced;  // this very timer, when rescheduled: destroying it from inside is safe
  std::unique_lock lock(mutex_);
  timer_deadline_.reset();
  const MonotonicTime now = clock_.now();
  while (!waiting_by_deadline_.empty() && waiting_by_deadline_.begin()->first <= now) {
    std::string item = waiting_by_deadline_.begin()->second;
    waiting_by_deadline_.erase(waiting_by_deadline_.begin());
    waiting_.erase(item);
    add_locked(item, lock);
  }
  replaced = reschedule_locked();
}

void WorkQueue::add_rate_limited(const std::string& item) {
  {
    std::lock_guard lock(mutex_);
    if (shutting_down_) return;
  }
  add_after(item, rate_limiter_->when(item));
}

void WorkQueue::forget(const std::string& item) { rate_limiter_->forget(item); }

int WorkQueue::num_requeues(const std::string& item) const {
  return rate_limiter_->num_requeues(item);
}

std::optional<std::string> WorkQueue::get() {
  TimerPtr replaced;  // destroyed after the lock is released: its callback takes the lock
  std::unique_lock lock(mutex_);
  ready_.wait(lock, [&] { return !queue_.empty() || shutting_down_; });
  if (queue_.empty()) return std::nullopt;
  std::string item = std::move(queue_.front());
  queue_.pop_front();
  const MonotonicTime now = clock_.now();
  if (auto added = added_at_.find(item); added != added_at_.end()) {
    queue_duration_.observe(seconds(now - added->second));
    added_at_.erase(added);
  }
  processing_.emplace(item, now);
  dirty_.erase(item);
  depth_.set(static_cast<double>(dirty_.size()));
  replaced = update_unfinished_work_locked();
  return item;
}

void WorkQueue::done(const std::string& item) {
  TimerPtr replaced;  // destroyed after the lock is released: its callback takes the lock
  std::lock_guard lock(mutex_);
  auto processing = processing_.find(item);
  if (processing == processing_.end()) return;
  work_duration_.observe(seconds(clock_.now() - processing->second));
  processing_.erase(processing);
  replaced = update_unfinished_work_locked();
  if (dirty_.contains(item)) {
    queue_.push_back(item);
    ready_.notify_one();
  } else if (shutting_down_ && processing_.empty() && queue_.empty()) {
    drained_.notify_all();
  }
}

TimerPtr WorkQueue::update_unfinished_work_locked() {
  const MonotonicTime now = clock_.now();
  double total = 0.0;
  double longest = 0.0;
  for (const auto& [item, started] : processing_) {
    const double age = seconds(now - started);
    total += age;
    longest = std::max(longest, age);
  }
  unfinished_work_.set(total);
  longest_running_processor_.set(longest);
  if (processing_.empty()) return std::move(unfinished_work_timer_);
  if (unfinished_work_timer_) return nullptr;  // already refreshing
  return std::exchange(unfinished_work_timer_,
                       clock_.schedule(now + kUnfinishedWorkUpdatePeriod, [this] {
                         TimerPtr self;  // this very timer: destroying it from inside is safe
                         std::lock_guard lock(mutex_);
                         self = std::move(unfinished_work_timer_);
                         TimerPtr none = update_unfinished_work_locked();
                       }));
}

std::size_t WorkQueue::length() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

std::size_t WorkQueue::delayed_length() const {
  std::lock_guard lock(mutex_);
  return waiting_.size();
}

void WorkQueue::shut_down() {
  TimerPtr timer;
  {
    std::lock_guard lock(mutex_);
    shutting_down_ = true;
    waiting_.clear();
    waiting_by_deadline_.clear();
    timer_deadline_.reset();
    timer = std::move(timer_);
  }
  ready_.notify_all();
  drained_.notify_all();
}

void WorkQueue::shut_down_with_drain() {
  shut_down();
  std::unique_lock lock(mutex_);
  drained_.wait(lock, [&] { return processing_.empty() && queue_.empty(); });
}

bool WorkQueue::shutting_down() const {
  std::lock_guard lock(mutex_);
  return shutting_down_;
}

}  // namespace meshprobe::kube
