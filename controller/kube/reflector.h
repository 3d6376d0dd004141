// Reflector: keeps a ReflectorSink (an Informer's cache) equal to the server's objects of one
// resource type, as client-go's reflector:
// - list (in pages) then watch from the list's resourceVersion, with bookmarks, tracking the
//   resourceVersion of every event and bookmark;
// - a watch the server ends (its timeoutSeconds, randomised in [5, 10) minutes) is renewed
//   from the last resourceVersion; so is one cut by the network, after a backoff;
// - 410 Gone (the resourceVersion was compacted away) relists; the sink's replace() turns the
//   new list into adds, updates and deletes, so nothing is missed;
// - failures back off exponentially with jitter (800 ms doubling to 30 s);
// - a resource the server does not serve (a CRD not installed yet) leaves the sink empty but
//   synced, and discovery is asked again every discoveryInterval.
#pragma once

#include <atomic>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "kube/api.h"
#include "kube/backoff.h"
#include "kube/clock.h"
#include "kube/discovery.h"
#include "kube/logger.h"
#include "kube/metrics.h"
#include "kube/random.h"

namespace meshprobe::kube {

// What the reflector feeds; implemented by Informer<T>.
class ReflectorSink {
 public:
  virtual ~ReflectorSink() = default;
  // A full list begins; items follow, then finish_replace() (or start_replace() again, when the
  // list failed half way: drop what came so far).
  virtual void start_replace() = 0;
  virtual void replace_item(nlohmann::json object) = 0;
  // The list is complete: the sink now holds exactly the listed objects.
  virtual void finish_replace() = 0;
  // The list failed half way: drop what came so far; the sink keeps its previous contents.
  virtual void abandon_replace() = 0;
  // One watch event (added, modified or deleted; never a bookmark).
  virtual void apply(WatchEventType type, nlohmann::json object) = 0;
};

struct ReflectorOptions {
  std::string namespace_name;  // "" = all namespaces
  std::string label_selector;
  std::string field_selector;
  // Items per list page. Smaller than client-go's 500: a page is parsed whole, and 500 served
  // Deployments (about 20 kB each with managedFields) parse into tens of MB that the cache's
  // objects then lie between; at 100 a restart with 10,000 Deployments is 22 MB smaller once
  // synced (38 MB instead of 60; docs/benchmarks.md), for 100 list requests instead of 20.
  std::int64_t page_size = 100;
  Duration minimum_watch_timeout = std::chrono::minutes(5);  // each watch asks for [min, 2*min)
  BackoffOptions backoff;
  Duration discovery_interval = std::chrono::seconds(30);
};

class Reflector {
 public:
  // `name` labels metrics and logs (e.g. "deployments").
  Reflector(std::string name, KubernetesApi& api, ResourceResolver resolve, ReflectorSink& sink,
            ReflectorOptions options, Clock& clock, Random& random, MetricsRegistry& metrics,
            Logger& logger);
  ~Reflector();

  void start();
  // Ends the current watch and joins the thread.
  void stop();

  // Why list_and_watch() returned: the caller backs off (kFailed), polls discovery
  // (kNotServed), relists at once (kRelist) or ends (kStopped).
  enum class Outcome { kStopped, kFailed, kNotServed, kRelist };
  // One resolve + list + watches until a relist is needed. The thread loops on it; unit tests
  // call it directly.
  Outcome list_and_watch(std::stop_token stop);

  // The resourceVersion the cache reflects (of the last list, event or bookmark).
  std::string last_resource_version() const;

 private:
  enum class WatchOutcome {
    kStopped,
    kEnded,             // the server ended it: watch again
    kBrokenConnection,  // network trouble: watch again from the same version after a backoff
    kRelist,            // 410 Gone: list again now
    kFailed,            // anything else: list again after a backoff
  };
  bool list(const ResourceType& type);
  WatchOutcome watch_once(const ResourceType& type, std::stop_token stop);
  void run(std::stop_token stop);
  void set_resource_version(const std::string& version);

  std::string name_;
  KubernetesApi& api_;
  ResourceResolver resolve_;
  ReflectorSink& sink_;
  ReflectorOptions options_;
  Clock& clock_;
  Random& random_;
  Logger& logger_;
  Backoff backoff_;
  bool served_ = true;

  mutable std::mutex mutex_;
  std::string resource_version_;
  std::jthread thread_;

  Counter& lists_;
  Counter& watches_;
  CounterFamily& restarts_;
};

}  // namespace meshprobe::kube
