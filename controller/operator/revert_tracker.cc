#include "operator/revert_tracker.h"

namespace meshprobe::controller {

void RevertTracker::record_revert(const std::string& deployment_key, const std::string& manager,
                                  TimePoint now) {
  std::lock_guard lock(mutex_);
  auto& history = reverts_[deployment_key];
  history.push_back({now, manager});
  // Only the last max_reverts matter for the decision, so memory stays bounded per Deployment.
  while (static_cast<int>(history.size()) > options_.max_reverts) history.pop_front();
}

std::optional<std::string> RevertTracker::conflicting_writer(const std::string& deployment_key,
                                                             TimePoint now) const {
  std::lock_guard lock(mutex_);
  auto it = reverts_.find(deployment_key);
  if (it == reverts_.end()) return std::nullopt;
  const auto& history = it->second;
  if (static_cast<int>(history.size()) < options_.max_reverts) return std::nullopt;
  if (now - history.front().at > options_.window) return std::nullopt;
  return history.back().manager;
}

void RevertTracker::forget(const std::string& deployment_key) {
  std::lock_guard lock(mutex_);
  reverts_.erase(deployment_key);
}

}  // namespace meshprobe::controller
