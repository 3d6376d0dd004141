// RolloutPacer: bounds how many workloads meshprobe has rewritten or restored whose rollout has
// not finished yet (maxConcurrentRollouts; 0 = unlimited), so that installing meshprobe into a
// cluster with hundreds of meshed workloads, or flipping the global toggle, does not restart
// them all at once (docs/workloads.md "Rollout pacing").
//
// A template write takes a slot (started()); the slot is free again once the cache shows that
// version (or a later one) rolled out (observe()), when the workload is deleted (forget()), or
// at the deadline (expire(): a rollout stuck on an image pull must not stall the rest). A
// workload that needs a write while every slot is taken waits in a first-come queue (admit());
// when slots free up, the first waiting keys are handed to `wake` (the operator puts them on
// the work queue). Thread-safe; time from the kube Clock.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "kube/clock.h"
#include "kube/metrics.h"

namespace meshprobe::controller {

class RolloutPacer {
 public:
  struct Options {
    int max_concurrent = 10;  // 0: unlimited (pacing off: nothing is tracked or expired)
    kube::Duration deadline = std::chrono::minutes(10);
  };
  using Wake = std::function<void(const std::string& key)>;

  RolloutPacer(Options options, kube::Clock& clock, kube::MetricsRegistry& metrics);

  // Called with keys that waited, when a slot frees up for them. Set before use.
  void set_wake(Wake wake);

  // Whether `key` may write its template now: it holds a slot already, or a slot is free and
  // no key that waited longer is ahead of it, and then the slot is reserved for it (workers
  // admit concurrently). Otherwise it waits (in arrival order).
  bool admit(const std::string& key);
  // The write admit() reserved a slot for did not happen (a conflict, an error): frees the
  // reservation (a slot of a rollout already started stays).
  void cancel(const std::string& key);
  // `key` no longer needs a write (converged, or its decision changed): leaves the queue.
  void withdraw(const std::string& key);
  // A template write of `key` produced `generation`: it holds a slot until that generation
  // rolled out.
  void started(const std::string& key, long long generation);
  // The cache's view of `key`: its slot is freed once `generation` (at least the one written)
  // finished rolling out.
  void observe(const std::string& key, long long generation, bool finished);
  // Deleted: frees its slot and leaves the queue.
  void forget(const std::string& key);
  // The keys whose rollout passed the deadline: their slots are freed. The caller reports them.
  std::vector<std::string> expire();
  // Until the earliest deadline of a held slot; `fallback` when none is held.
  kube::Duration until_next_deadline(kube::Duration fallback) const;

  int max_concurrent() const { return options_.max_concurrent; }
  kube::Duration deadline() const { return options_.deadline; }
  std::size_t in_progress() const;
  std::size_t waiting() const;

 private:
  struct Slot {
    long long generation;  // kReserved until started()
    kube::MonotonicTime deadline;
  };
  // Frees `key`'s slot (lock held); true when it held one.
  bool release_locked(const std::string& key);
  // The waiting keys that fit the free slots (lock held).
  std::vector<std::string> wakeable_locked() const;
  void update_gauges_locked();
  void wake(const std::vector<std::string>& keys);

  const Options options_;
  kube::Clock& clock_;
  Wake wake_;
  mutable std::mutex mutex_;
  std::map<std::string, Slot> slots_;
  std::deque<std::string> queue_;  // waiting, oldest first
  std::set<std::string> queued_;
  kube::Gauge& in_progress_gauge_;
  kube::Gauge& waiting_gauge_;
  kube::Counter& started_total_;
  kube::Counter& timed_out_total_;
};

}  // namespace meshprobe::controller
