#include "operator/rollout_pacer.h"

#include <algorithm>
#include <limits>

namespace meshprobe::controller {
namespace {
// The generation of a slot admit() reserved and no write has filled yet: never finished.
constexpr long long kReserved = std::numeric_limits<long long>::max();
}  // namespace

RolloutPacer::RolloutPacer(Options options, kube::Clock& clock, kube::MetricsRegistry& metrics)
    : options_(options),
      clock_(clock),
      in_progress_gauge_(metrics
                             .gauge("meshprobe_rollouts_in_progress",
                                    "Workloads meshprobe rewrote or restored whose rollout has not "
                                    "finished yet (bounded by maxConcurrentRollouts).")
                             .labels({})),
      waiting_gauge_(metrics
                         .gauge("meshprobe_rollouts_waiting",
                                "Workloads waiting for a rollout slot before meshprobe writes "
                                "their template.")
                         .labels({})),
      started_total_(metrics
                         .counter("meshprobe_rollouts_started_total",
                                  "Template writes that started a rollout.")
                         .labels({})),
      timed_out_total_(metrics
                           .counter("meshprobe_rollouts_timed_out_total",
                                    "Rollouts meshprobe started that did not finish before the "
                                    "deadline (rolloutDeadline); their slot was freed.")
                           .labels({})) {}

void RolloutPacer::set_wake(Wake wake) {
  std::lock_guard lock(mutex_);
  wake_ = std::move(wake);
}

bool RolloutPacer::admit(const std::string& key) {
  std::lock_guard lock(mutex_);
  if (options_.max_concurrent <= 0 || slots_.contains(key)) return true;
  const std::size_t free_slots =
      slots_.size() >= static_cast<std::size_t>(options_.max_concurrent)
          ? 0
          : static_cast<std::size_t>(options_.max_concurrent) - slots_.size();
  const auto reserve = [&] {
    slots_[key] = {kReserved, clock_.now() + options_.deadline};
    update_gauges_locked();
    return true;
  };
  if (!queued_.contains(key)) {
    if (free_slots > queue_.size()) return reserve();  // nobody waits for these slots
    queue_.push_back(key);
    queued_.insert(key);
    update_gauges_locked();
    return false;
  }
  const auto position =
      static_cast<std::size_t>(std::find(queue_.begin(), queue_.end(), key) - queue_.begin());
  if (position >= free_slots) return false;
  queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(position));
  queued_.erase(key);
  return reserve();
}

void RolloutPacer::cancel(const std::string& key) {
  std::vector<std::string> to_wake;
  {
    std::lock_guard lock(mutex_);
    auto slot = slots_.find(key);
    if (slot == slots_.end() || slot->second.generation != kReserved) return;
    release_locked(key);
    to_wake = wakeable_locked();
  }
  wake(to_wake);
}

void RolloutPacer::withdraw(const std::string& key) {
  std::vector<std::string> to_wake;
  {
    std::lock_guard lock(mutex_);
    if (!queued_.erase(key)) return;
    queue_.erase(std::find(queue_.begin(), queue_.end(), key));
    update_gauges_locked();
    to_wake = wakeable_locked();  // a key behind it may fit now
  }
  wake(to_wake);
}

void RolloutPacer::started(const std::string& key, long long generation) {
  std::lock_guard lock(mutex_);
  started_total_.increment();
  if (options_.max_concurrent <= 0) return;  // pacing off: no slots, no deadlines
  slots_[key] = {generation, clock_.now() + options_.deadline};
  update_gauges_locked();
}

void RolloutPacer::observe(const std::string& key, long long generation, bool finished) {
  std::vector<std::string> to_wake;
  {
    std::lock_guard lock(mutex_);
    auto slot = slots_.find(key);
    if (slot == slots_.end() || !finished || generation < slot->second.generation) return;
    release_locked(key);
    to_wake = wakeable_locked();
  }
  wake(to_wake);
}

void RolloutPacer::forget(const std::string& key) {
  std::vector<std::string> to_wake;
  {
    std::lock_guard lock(mutex_);
    const bool released = release_locked(key);
    if (queued_.erase(key)) queue_.erase(std::find(queue_.begin(), queue_.end(), key));
    update_gauges_locked();
    if (released) to_wake = wakeable_locked();
  }
  wake(to_wake);
}

std::vector<std::string> RolloutPacer::expire() {
  std::vector<std::string> expired;
  std::vector<std::string> to_wake;
  {
    std::lock_guard lock(mutex_);
    const auto now = clock_.now();
    for (const auto& [key, slot] : slots_) {
      if (slot.deadline <= now) expired.push_back(key);
    }
    if (expired.empty()) return expired;
    for (const auto& key : expired) release_locked(key);
    timed_out_total_.increment(static_cast<double>(expired.size()));
    to_wake = wakeable_locked();
  }
  wake(to_wake);
  return expired;
}

kube::Duration RolloutPacer::until_next_deadline(kube::Duration fallback) const {
  std::lock_guard lock(mutex_);
  if (slots_.empty()) return fallback;
  auto earliest = slots_.begin()->second.deadline;
  for (const auto& [key, slot] : slots_) earliest = std::min(earliest, slot.deadline);
  return std::max(kube::Duration::zero(),
                  std::chrono::duration_cast<kube::Duration>(earliest - clock_.now()));
}

std::size_t RolloutPacer::in_progress() const {
  std::lock_guard lock(mutex_);
  return slots_.size();
}

std::size_t RolloutPacer::waiting() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

bool RolloutPacer::release_locked(const std::string& key) {
  const bool released = slots_.erase(key) > 0;
  update_gauges_locked();
  return released;
}

std::vector<std::string> RolloutPacer::wakeable_locked() const {
  if (options_.max_concurrent <= 0) return {};
  const auto limit = static_cast<std::size_t>(options_.max_concurrent);
  const std::size_t free_slots = slots_.size() >= limit ? 0 : limit - slots_.size();
  const std::size_t count = std::min(free_slots, queue_.size());
  return {queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(count)};
}

void RolloutPacer::update_gauges_locked() {
  in_progress_gauge_.set(static_cast<double>(slots_.size()));
  waiting_gauge_.set(static_cast<double>(queue_.size()));
}

void RolloutPacer::wake(const std::vector<std::string>& keys) {
  Wake wake;
  {
    std::lock_guard lock(mutex_);
    wake = wake_;
  }
  if (!wake) return;
  for (const auto& key : keys) wake(key);
}

}  // namespace meshprobe::controller
