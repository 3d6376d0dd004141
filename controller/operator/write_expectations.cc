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

// The newest of `versions` when every one is a number (kube-apiserver serves etcd revisions:
// decimal, increasing; resource versions are opaque to clients, so without numbers only the
// set itself counts).
std::optional<std::uint64_t> newest(const std::set<std::string>& versions) {
  std::uint64_t newest_number = 0;
  for (const auto& version : versions) {
    const auto number = as_number(version);
    if (!number) return std::nullopt;
    newest_number = std::max(newest_number, *number);
  }
  return newest_number;
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
  // The cache is behind while it shows a version this process wrote over, or one older than
  // its newest write: another writer's version between two of ours (kube-controller-manager's
  // status write between meshprobe's template patch and its status write) lacks the second
  // write, and acting on it would make that write again. The newest write itself is caught up.
  const auto& stale = found->second.stale_versions;
  const auto newest_written = newest(stale);
  const auto cached_number = as_number(cached_version);
  const bool behind = newest_written && cached_number ? *cached_number < *newest_written
                                                      : stale.contains(cached_version);
  if (behind && clock_.now() < found->second.deadline) return false;
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
