// LeaderElector: one active controller among replicas, on a coordination.k8s.io/v1 Lease, as
// client-go's leaderelection package:
// - a candidate tries every retryPeriod (with jitter) to create the Lease or take it over once
//   its holder has not renewed it for leaseDuration, measured on this process's own clock
//   from when it last saw the record change (clocks of different nodes are never compared);
// - the leader renews every retryPeriod; when no renewal has succeeded for renewDeadline it
//   stops leading at once, even while a renewal is still hanging: a timer on the Clock fires
//   at the deadline. Since renewDeadline < leaseDuration, it has stopped before any other
//   candidate may take the Lease over;
// - stop() releases the Lease (empty holder) so a successor need not wait.
// Optimistic concurrency (the Lease's resourceVersion) makes two candidates' writes exclusive.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include "kube/api.h"
#include "kube/clock.h"
#include "kube/logger.h"
#include "kube/metrics.h"
#include "kube/random.h"

namespace meshprobe::kube {

struct LeaderElectionConfig {
  std::string namespace_name;
  std::string name;      // the Lease's name
  std::string identity;  // unique per replica: the pod name, or host name and a random part
  Duration lease_duration = std::chrono::seconds(15);
  Duration renew_deadline = std::chrono::seconds(10);
  Duration retry_period = std::chrono::seconds(2);
};

// client-go's rules: leaseDuration > renewDeadline > 1.2 * retryPeriod, and a name/identity.
meshprobe::Result<bool> validate(const LeaderElectionConfig& config);

struct LeaderCallbacks {
  // Became leader: start the work and return. `leading` is stopped when leadership ends.
  std::function<void(std::stop_token leading)> on_started_leading;
  // No longer leader (lost, or stop()): everything started above must stop acting; the
  // `leading` token is already stopped. When the renew deadline passes this runs on the
  // Clock's timer thread, so keep it short (signal main() to exit, as controller-runtime does,
  // or stop the workers from another thread).
  std::function<void()> on_stopped_leading;
  // Another (or this) identity was seen holding the Lease.
  std::function<void(const std::string& identity)> on_new_leader;
};

// The Lease as this process last saw it.
struct LeaseRecord {
  std::string holder_identity;
  int lease_duration_seconds = 0;
  std::string acquire_time;  // RFC 3339 with microseconds (MicroTime)
  std::string renew_time;
  int lease_transitions = 0;
};

class LeaderElector {
 public:
  LeaderElector(KubernetesApi& api, LeaderElectionConfig config, LeaderCallbacks callbacks,
                Clock& clock, Random& random, MetricsRegistry& metrics, Logger& logger);
  ~LeaderElector();

  void start();
  // Stops leading (releasing the Lease) or trying to, and joins the thread.
  void stop();
  bool is_leader() const;
  // Why this replica cannot even compete for the Lease, with the fix (its namespace does not
  // exist, RBAC forbids it): logged once as an error, and what /readyz reports. nullopt while it
  // leads or competes normally (another replica leading is no problem).
  std::optional<std::string> problem() const;

  // One attempt to acquire or renew; true when this process holds the Lease afterwards. The
  // thread loops on it; unit tests call it directly.
  bool try_acquire_or_renew();
  // Gives the Lease up if this process holds it.
  void release();

 private:
  void run(std::stop_token stop);
  void become_leader();
  void lose_leadership(const std::string& why, LogLevel level);
  void arm_deadline(MonotonicTime last_renewal);
  nlohmann::json lease_object(const LeaseRecord& record, const std::string& resource_version) const;
  void observe(const LeaseRecord& record);
  // Records the outcome of one call on the Lease: `error` (for `action`: "read", "create",
  // "update") or success; logs a problem once, the same one again only at debug level.
  void report(const std::string& action, const ApiError* error);

  KubernetesApi& api_;
  LeaderElectionConfig config_;
  LeaderCallbacks callbacks_;
  Clock& clock_;
  Random& random_;
  Logger& logger_;
  Gauge& leader_gauge_;
  Counter& transitions_;

  mutable std::mutex mutex_;
  std::optional<LeaseRecord> observed_;
  MonotonicTime observed_at_{};
  bool leading_ = false;
  std::optional<std::string> problem_;
  std::stop_source leading_stop_;
  TimerPtr deadline_;
  std::jthread thread_;
};

// MicroTime as the API writes it: 2026-01-01T00:00:00.000000Z.
std::string format_micro_time(SystemTime time);

}  // namespace meshprobe::kube
