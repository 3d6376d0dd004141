// WriteExpectations: client-go's "expectations" for the operator's own writes. After writing a
// Deployment, the cache still shows the version the write was based on (and, until the watch
// delivers the next event, each version the reconcile itself produced): acting on those would
// write the same change again. So the reconciler records the versions it has made stale (the
// one it read and the ones its writes produced) and does not act on that Deployment until the
// cache shows the newest of them or a later one: a version another writer made between two of
// the reconciler's writes lacks the second write, so it waits past that too. An expectation
// expires
// after `timeout` (a watch event that never arrives must not stop reconciling for good).
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>

#include "kube/clock.h"

namespace meshprobe::controller {

class WriteExpectations {
 public:
  WriteExpectations(kube::Clock& clock, kube::Duration timeout)
      : clock_(clock), timeout_(timeout) {}

  // The cache's versions `stale_versions` of `key` are out of date: this process wrote over them.
  void expect(const std::string& key, std::set<std::string> stale_versions);
  // Like expect(), and `newest_written` (the version of this process's last write) is what the
  // cache shows once it caught up: that version and later ones can be acted on, earlier ones
  // not (numeric resource versions, as kube-apiserver serves them; otherwise expect()'s rule).
  void expect_written(const std::string& key, std::set<std::string> stale_versions,
                      const std::string& newest_written);
  // Whether the cache's version of `key` can be acted on; forgets a fulfilled or expired
  // expectation.
  bool satisfied(const std::string& key, const std::string& cached_version);
  // How long until an unfulfilled expectation of `key` expires (zero when there is none).
  kube::Duration remaining(const std::string& key) const;
  void forget(const std::string& key);

 private:
  struct Expectation {
    std::set<std::string> stale_versions;
    std::string newest_written;  // empty: not known
    kube::MonotonicTime deadline;
  };
  kube::Clock& clock_;
  const kube::Duration timeout_;
  mutable std::mutex mutex_;
  std::map<std::string, Expectation> expectations_;
};

}  // namespace meshprobe::controller
