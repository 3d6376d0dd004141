#include "kube/work_queue.h"

#include <utility>

namespace meshprobe::kube {
namespace {

double seconds(Duration duration) { return std::chrono::duration<double>(duration).count(); }

}  // namespace

WorkQueue::WorkQueue(std::string name, Clock& clock, RateLimiterPtr rateLimiter,
                     MetricsRegistry& metrics)
    : name_(std::move(name)),
      clock_(clock),
      rateLimiter_(std::move(rateLimiter)),
      depth_(metrics.gauge("workqueue_depth", "Current depth of the work queue.", {"name"})
                 .labels({name_})),
      adds_(metrics.counter("workqueue_adds_total", "Items added to the work queue.", {"name"})
                .labels({name_})),
      retries_(metrics.counter("workqueue_retries_total", "Rate-limited retries of the work queue.",
                               {"name"})
                   .labels({name_})),
      queueDuration_(metrics
                         .histogram("workqueue_queue_duration_seconds",
                                    "Seconds an item waits in the queue before it is handed out.",
                                    {"name"})
                         .labels({name_})),
      workDuration_(metrics
                        .histogram("workqueue_work_duration_seconds",
                                   "Seconds a worker spends on an item.", {"name"})
                        .labels({name_})) {}

WorkQueue::~WorkQueue() {
  TimerPtr timer;
  {
    std::lock_guard lock(mutex_);
    timer = std::move(timer_);
  }
  // Destroyed outside the lock: the callback takes it.
}

void WorkQueue::add(const std::string& item) {
  std::unique_lock lock(mutex_);
  addLocked(item, lock);
}

void WorkQueue::addLocked(const std::string& item, std::unique_lock<std::mutex>& lock) {
  if (shuttingDown_) return;
  adds_.increment();
  if (!dirty_.insert(item).second) return;  // already waiting to be handed out
  if (processing_.contains(item)) return;   // queued again by done()
  queue_.push_back(item);
  addedAt_.emplace(item, clock_.now());
  depth_.set(static_cast<double>(queue_.size()));
  ready_.notify_one();
}

void WorkQueue::addAfter(const std::string& item, Duration delay) {
  TimerPtr replaced;  // destroyed after the lock is released: its callback takes the lock
  std::unique_lock lock(mutex_);
  if (shuttingDown_) return;
  if (delay <= Duration::zero()) {
    addLocked(item, lock);
    return;
  }
  const MonotonicTime deadline = clock_.now() + delay;
  auto existing = waiting_.find(item);
  if (existing != waiting_.end()) {
    if (existing->second <= deadline) return;  // the earlier deadline wins
    auto range = waitingByDeadline_.equal_range(existing->second);
    for (auto it = range.first; it != range.second; ++it) {
      if (it->second == item) {
        waitingByDeadline_.erase(it);
        break;
      }
    }
    existing->second = deadline;
  } else {
    waiting_.emplace(item, deadline);
  }
  waitingByDeadline_.emplace(deadline, item);
  replaced = rescheduleLocked();
}

TimerPtr WorkQueue::rescheduleLocked() {
  if (waitingByDeadline_.empty() || shuttingDown_) return nullptr;
  const MonotonicTime earliest = waitingByDeadline_.begin()->first;
  if (timerDeadline_ && *timerDeadline_ <= earliest) return nullptr;
  timerDeadline_ = earliest;
  return std::exchange(timer_, clock_.schedule(earliest, [this] { onTimer(); }));
}

void WorkQueue::onTimer() {
  TimerPtr replaced;  // this very timer, when rescheduled: destroying it from inside is safe
  std::unique_lock lock(mutex_);
  timerDeadline_.reset();
  const MonotonicTime now = clock_.now();
  while (!waitingByDeadline_.empty() && waitingByDeadline_.begin()->first <= now) {
    std::string item = waitingByDeadline_.begin()->second;
    waitingByDeadline_.erase(waitingByDeadline_.begin());
    waiting_.erase(item);
    addLocked(item, lock);
  }
  replaced = rescheduleLocked();
}

void WorkQueue::addRateLimited(const std::string& item) {
  {
    std::lock_guard lock(mutex_);
    if (shuttingDown_) return;
  }
  retries_.increment();
  addAfter(item, rateLimiter_->when(item));
}

void WorkQueue::forget(const std::string& item) { rateLimiter_->forget(item); }

int WorkQueue::numRequeues(const std::string& item) const {
  return rateLimiter_->numRequeues(item);
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mutex_);
  ready_.wait(lock, [&] { return !queue_.empty() || shuttingDown_; });
  if (queue_.empty()) return std::nullopt;
  std::string item = std::move(queue_.front());
  queue_.pop_front();
  depth_.set(static_cast<double>(queue_.size()));
  const MonotonicTime now = clock_.now();
  if (auto added = addedAt_.find(item); added != addedAt_.end()) {
    queueDuration_.observe(seconds(now - added->second));
    addedAt_.erase(added);
  }
  processing_.emplace(item, now);
  dirty_.erase(item);
  return item;
}

void WorkQueue::done(const std::string& item) {
  std::lock_guard lock(mutex_);
  auto processing = processing_.find(item);
  if (processing == processing_.end()) return;
  workDuration_.observe(seconds(clock_.now() - processing->second));
  processing_.erase(processing);
  if (dirty_.contains(item)) {
    queue_.push_back(item);
    addedAt_.emplace(item, clock_.now());
    depth_.set(static_cast<double>(queue_.size()));
    ready_.notify_one();
  } else if (shuttingDown_ && processing_.empty() && queue_.empty()) {
    drained_.notify_all();
  }
}

std::size_t WorkQueue::length() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

std::size_t WorkQueue::delayedLength() const {
  std::lock_guard lock(mutex_);
  return waiting_.size();
}

void WorkQueue::shutDown() {
  TimerPtr timer;
  {
    std::lock_guard lock(mutex_);
    shuttingDown_ = true;
    waiting_.clear();
    waitingByDeadline_.clear();
    timerDeadline_.reset();
    timer = std::move(timer_);
  }
  ready_.notify_all();
  drained_.notify_all();
}

void WorkQueue::shutDownWithDrain() {
  shutDown();
  std::unique_lock lock(mutex_);
  drained_.wait(lock, [&] { return processing_.empty() && queue_.empty(); });
}

bool WorkQueue::shuttingDown() const {
  std::lock_guard lock(mutex_);
  return shuttingDown_;
}

}  // namespace meshprobe::kube
