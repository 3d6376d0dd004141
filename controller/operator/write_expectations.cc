#include "operator/write_expectations.h"

namespace meshprobe::controller {

void WriteExpectations::expect(const std::string& key, std::set<std::string> stale_versions) {
  std::lock_guard lock(mutex_);
  expectations_[key] = {std::move(stale_versions), clock_.now() + timeout_};
}

bool WriteExpectations::satisfied(const std::string& key, const std::string& cached_version) {
  std::lock_guard lock(mutex_);
  auto found = expectations_.find(key);
  if (found == expectations_.end()) return true;
  if (found->second.stale_versions.contains(cached_version) && clock_.now() < found->second.deadline) return false;
  expectations_.erase(found);
  return true;
}

kube::Duration WriteExpectations::remaining(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto found = expectations_.find(key);
  if (found == expectations_.end()) return kube::Duration::zero();
  return std::max(kube::Duration::zero(), found->second.deadline - clock_.now());
}

void WriteExpectations::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  expectations_.erase(key);
}

}  // namespace meshprobe::controller
