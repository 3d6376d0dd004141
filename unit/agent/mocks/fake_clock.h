// A clock that moves only when the test says so. advance() runs the timers that come due, in
// deadline order, on the calling thread, each seeing now() at its deadline: a test whose agent
// runs on an event loop advances time on that loop (TestAgent::advance_time does).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>

#include "agent/clock.h"

namespace meshprobe::agent {

class FakeClock final : public Clock {
 public:
  MonotonicTime now() const override {
    std::lock_guard lock(state_->mutex);
    return state_->monotonic;
  }
  SystemTime system_now() const override {
    std::lock_guard lock(state_->mutex);
    return state_->system;
  }

  TimerPtr schedule(MonotonicTime deadline, std::function<void()> callback) override {
    std::lock_guard lock(state_->mutex);
    const Key key{deadline, state_->next_id++};
    state_->timers.emplace(key, std::move(callback));
    state_->changed.notify_all();
    return std::make_unique<Handle>(state_, key);
  }

  void advance(Duration by) {
    std::unique_lock lock(state_->mutex);
    const MonotonicTime target = state_->monotonic + by;
    while (!state_->timers.empty() && state_->timers.begin()->first.first <= target) {
      auto due = state_->timers.extract(state_->timers.begin());
      move_to(due.key().first);
      lock.unlock();
      due.mapped()();  // may schedule or cancel timers
      lock.lock();
    }
    move_to(target);
  }

  void set_system(SystemTime time) {
    std::lock_guard lock(state_->mutex);
    state_->system = time;
  }

  std::size_t pending_timers() const {
    std::lock_guard lock(state_->mutex);
    return state_->timers.size();
  }
  // For a test whose agent runs on another thread: blocks until exactly `count` timers are
  // pending (the agent armed a deadline, or cancelled one). A real-time bound keeps a broken
  // test from hanging; returns false when it ran out.
  bool wait_for_pending_timers(std::size_t count,
                               std::chrono::milliseconds bound = std::chrono::seconds(10)) const {
    std::unique_lock lock(state_->mutex);
    return state_->changed.wait_for(lock, bound, [&] { return state_->timers.size() == count; });
  }
  // The same, until a timer is pending for exactly `deadline`.
  bool wait_for_timer_at(MonotonicTime deadline,
                         std::chrono::milliseconds bound = std::chrono::seconds(10)) const {
    std::unique_lock lock(state_->mutex);
    return state_->changed.wait_for(lock, bound, [&] {
      const auto next = state_->timers.lower_bound(Key{deadline, 0});
      return next != state_->timers.end() && next->first.first == deadline;
    });
  }

 private:
  using Key = std::pair<MonotonicTime, std::uint64_t>;  // deadline, then order of scheduling
  struct State {
    mutable std::mutex mutex;
    mutable std::condition_variable changed;
    MonotonicTime monotonic{std::chrono::hours(1)};
    SystemTime system{std::chrono::seconds(1'700'000'000)};
    std::map<Key, std::function<void()>> timers;
    std::uint64_t next_id = 0;
  };

  // Cancels its timer when destroyed, even after the clock is gone.
  class Handle final : public Timer {
   public:
    Handle(const std::shared_ptr<State>& state, Key key) : state_(state), key_(key) {}
    ~Handle() override {
      const auto state = state_.lock();
      if (!state) return;
      std::lock_guard lock(state->mutex);
      state->timers.erase(key_);
      state->changed.notify_all();
    }

   private:
    std::weak_ptr<State> state_;
    Key key_;
  };

  // Called with the mutex held.
  void move_to(MonotonicTime time) {
    if (time <= state_->monotonic) return;
    state_->system += std::chrono::duration_cast<SystemTime::duration>(time - state_->monotonic);
    state_->monotonic = time;
  }

  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace meshprobe::agent
