#include "operator/write_expectations.h"

#include <algorithm>
#include <cstdint>
#include <optional>

namespace meshprobe::controller {
namespace {

std::optional<std::uint64_t> as_number(const std::string& version) {
  if (version.empty() || version.size() > 19 ||
      !std::all_of(version.begin(), version.end(), ::isdigit)) {
    return std::nullopt;
  }
  return std::stoull(version);
}

}  // namespace

void WriteExpectations::expect(const std::string& key, std::set<std::string> stale_versions) {
  expect_written(key, std::move(stale_versions), "");
}

void WriteExpectations::expect_written(const std::string& key, std::set<std::string> stale_versions,
                                       const std::string& newest_written) {
  std::lock_guard lock(mutex_);
  expectations_[key] = {std::move(stale_versions), newest_written, clock_.now() + timeout_};
}

bool WriteExpectations::satisfied(const std::string& key, const std::string& cached_version) {
  std::lock_guard lock(mutex_);
  auto found = expectations_.find(key);
  if (found == expectations_.end()) return true;
  // With the newest write known, the cache is behind while it shows an older version: also
  // another writer's version between two of ours (kube-controller-manager's status write
  // between meshprobe's template patch and its status write), which lacks the second write;
  // acting on it would make that write again. The newest write itself is caught up.
  const auto newest_written = as_number(found->second.newest_written);
  const auto cached_number = as_number(cached_version);
  const bool behind = newest_written && cached_number
                          ? *cached_number < *newest_written
                          : found->second.stale_versions.contains(cached_version);
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
