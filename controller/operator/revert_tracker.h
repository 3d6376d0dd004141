// Notices another writer fighting meshprobe over a Deployment's probes: typically a GitOps tool
// that keeps syncing the manifest with the original probes back. Each time the controller finds
// a Deployment it had rewritten with its original probes put back by another field manager, it
// records a revert here; `max_reverts` reverts within `window` make that manager a conflicting
// writer, and the controller stops rewriting the Deployment instead of causing a rollout each
// time (reason ConflictingWriter). Pure and thread-safe; time is passed in.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace meshprobe::controller {

class RevertTracker {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  struct Options {
    int max_reverts = 3;
    std::chrono::seconds window{600};
  };

  explicit RevertTracker(Options options) : options_(options) {}

  void record_revert(const std::string& deployment_key, const std::string& manager, TimePoint now);

  // The manager of the most recent revert when `max_reverts` happened within the window ending
  // at `now`; nullopt otherwise.
  std::optional<std::string> conflicting_writer(const std::string& deployment_key,
                                                TimePoint now) const;

  // Forgets a Deployment (deleted, or its conflict resolved by the user).
  void forget(const std::string& deployment_key);

 private:
  struct Revert {
    TimePoint at;
    std::string manager;
  };

  const Options options_;
  mutable std::mutex mutex_;
  std::map<std::string, std::deque<Revert>> reverts_;  // oldest first, at most max_reverts
};

}  // namespace meshprobe::controller
