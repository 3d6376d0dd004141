#include "operator/write_expectations.h"

#include <algorithm>
#include <cstdint>
#include <optional>

namespace meshprobe::controller {
namespace {

std::optional<std::uint64_t> as_number(const std::string& version) {
  if (version.empty() || version.size() > 19 || !std::all_of(version.begin(), version.end(), ::isdigit)) {
    return std::nullopt;
  }
  return std::stoull(version);
}

// Whether `cached` is older than the newest version this process wrote. Another writer's
// version between two of ours (kube-controller-manager's status write between meshprobe's
// template patch and its status write) is neither stale nor current: the cache has not seen
// meshprobe's last write yet, and acting on it would write that again. Resource versions are
// opaque to clients, but every kube-apiserver serves etcd revisions (decimal, increasing); if a
// version is not a number, only the stale set counts.
bool older_than_written(const std::string& cached, const std::set<std::string>& stale_versions) {
  const auto cached_number = as_number(cached);
  if (!cached_number) return false;
  for (const auto& version : stale_versions) {
    const auto number = as_number(version);
    if (number && *cached_number < *number) return true;
  }
  return false;
}

}  // namespace

void WriteExpectations::expect(const std::string& key, std::set<std::string> stale_versions) {
  std::lock_guard lock(mutex_);
  expectations_[key] = {std::move(stale_versions), clock_.now() + timeout_};
}

bool WriteExpectations::satisfied(const std::string& key, const std::string& cached_version) {
  std::lock_guard lock(mutex_);
  auto found = expectations_.find(key);
  if (found == expectations_.end()) return true;
  const auto& stale = found->second.stale_versions;
  if ((stale.contains(cached_version) || older_than_written(cached_version, stale)) &&
      clock_.now() < found->second.deadline) {
    return false;
  }
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
