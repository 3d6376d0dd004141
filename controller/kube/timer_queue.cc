#include "kube/timer_queue.h"

namespace meshprobe::kube {

class TimerQueue::Handle final : public Timer {
 public:
  Handle(std::weak_ptr<TimerQueue> queue, std::uint64_t id) : queue_(std::move(queue)), id_(id) {}
  ~Handle() override {
    if (auto queue = queue_.lock()) queue->cancel(id_);
  }

 private:
  std::weak_ptr<TimerQueue> queue_;
  std::uint64_t id_;
};

TimerPtr TimerQueue::add(MonotonicTime deadline, std::function<void()> callback) {
  std::uint64_t id;
  {
    std::lock_guard lock(mutex_);
    id = next_id_++;
    pending_.emplace(deadline, std::make_pair(id, std::move(callback)));
  }
  changed_.notify_all();
  return std::make_unique<Handle>(weak_from_this(), id);
}

bool TimerQueue::run_one_due(MonotonicTime now) {
  std::function<void()> callback;
  {
    std::lock_guard lock(mutex_);
    auto earliest = pending_.begin();
    if (earliest == pending_.end() || earliest->first > now) return false;
    running_id_ = earliest->second.first;
    running_thread_ = std::this_thread::get_id();
    callback = std::move(earliest->second.second);
    pending_.erase(earliest);
  }
  callback();
  {
    std::lock_guard lock(mutex_);
    running_id_ = 0;
  }
  finished_.notify_all();
  return true;
}

std::optional<MonotonicTime> TimerQueue::earliest_deadline() const {
  std::lock_guard lock(mutex_);
  if (pending_.empty()) return std::nullopt;
  return pending_.begin()->first;
}

std::size_t TimerQueue::size() const {
  std::lock_guard lock(mutex_);
  return pending_.size();
}

void TimerQueue::serve_real_time() {
  std::unique_lock lock(mutex_);
  while (!stopped_) {
    MonotonicTime now = std::chrono::steady_clock::now();
    if (!pending_.empty() && pending_.begin()->first <= now) {
      lock.unlock();
      run_one_due(now);
      lock.lock();
    } else if (pending_.empty()) {
      changed_.wait(lock);
    } else {
      changed_.wait_until(lock, pending_.begin()->first);
    }
  }
}

void TimerQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  changed_.notify_all();
}

void TimerQueue::cancel(std::uint64_t id) {
  std::unique_lock lock(mutex_);
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->second.first == id) {
      pending_.erase(it);
      return;
    }
  }
  // Running now on another thread: wait, so the callback's captures stay alive until it ends.
  // From inside the callback itself there is nothing to wait for.
  if (running_id_ == id && running_thread_ != std::this_thread::get_id()) {
    finished_.wait(lock, [&] { return running_id_ != id; });
  }
}

}  // namespace meshprobe::kube
