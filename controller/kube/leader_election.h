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
  std::string namespaceName;
  std::string name;       // the Lease's name
  std::string identity;   // unique per replica: the pod name, or host name and a random part
  Duration leaseDuration = std::chrono::seconds(15);
  Duration renewDeadline = std::chrono::seconds(10);
  Duration retryPeriod = std::chrono::seconds(2);
};

// client-go's rules: leaseDuration > renewDeadline > 1.2 * retryPeriod, and a name/identity.
meshprobe::Result<bool> validate(const LeaderElectionConfig& config);

struct LeaderCallbacks {
  // Became leader: start the work and return. `leading` is stopped when leadership ends.
  std::function<void(std::stop_token leading)> onStartedLeading;
  // No longer leader (lost, or stop()): everything started above must stop acting; the
  // `leading` token is already stopped. When the renew deadline passes this runs on the
  // Clock's timer thread, so keep it short (signal main() to exit, as controller-runtime does,
  // or stop the workers from another thread).
  std::function<void()> onStoppedLeading;
  // Another (or this) identity was seen holding the Lease.
  std::function<void(const std::string& identity)> onNewLeader;
};

// The Lease as this process last saw it.
struct LeaseRecord {
  std::string holderIdentity;
  int leaseDurationSeconds = 0;
  std::string acquireTime;  // RFC 3339 with microseconds (MicroTime)
  std::string renewTime;
  int leaseTransitions = 0;
};

class LeaderElector {
 public:
  LeaderElector(KubernetesApi& api, LeaderElectionConfig config, LeaderCallbacks callbacks,
                Clock& clock, Random& random, MetricsRegistry& metrics, Logger& logger);
  ~LeaderElector();

  void start();
  // Stops leading (releasing the Lease) or trying to, and joins the thread.
  void stop();
  bool isLeader() const;

  // One attempt to acquire or renew; true when this process holds the Lease afterwards. The
  // thread loops on it; unit tests call it directly.
  bool tryAcquireOrRenew();
  // Gives the Lease up if this process holds it.
  void release();

 private:
  void run(std::stop_token stop);
  void becomeLeader();
  void loseLeadership(const std::string& why);
  void armDeadline(MonotonicTime lastRenewal);
  nlohmann::json leaseObject(const LeaseRecord& record, const std::string& resourceVersion) const;
  void observe(const LeaseRecord& record);

  KubernetesApi& api_;
  LeaderElectionConfig config_;
  LeaderCallbacks callbacks_;
  Clock& clock_;
  Random& random_;
  Logger& logger_;
  Gauge& leaderGauge_;
  Counter& transitions_;

  mutable std::mutex mutex_;
  std::optional<LeaseRecord> observed_;
  MonotonicTime observedAt_{};
  bool leading_ = false;
  std::stop_source leadingStop_;
  TimerPtr deadline_;
  std::jthread thread_;
};

// MicroTime as the API writes it: 2026-01-01T00:00:00.000000Z.
std::string formatMicroTime(SystemTime time);

}  // namespace meshprobe::kube
