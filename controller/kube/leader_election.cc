#include "kube/leader_election.h"

#include <ctime>
#include <utility>

namespace meshprobe::kube {
namespace {

constexpr double kRetryJitter = 1.2;  // client-go's JitterFactor

LeaseRecord readRecord(const nlohmann::json& lease) {
  LeaseRecord record;
  const auto spec = lease.find("spec");
  if (spec == lease.end() || !spec->is_object()) return record;
  record.holderIdentity = spec->value("holderIdentity", "");
  record.leaseDurationSeconds = spec->value("leaseDurationSeconds", 0);
  record.acquireTime = spec->value("acquireTime", "");
  record.renewTime = spec->value("renewTime", "");
  record.leaseTransitions = spec->value("leaseTransitions", 0);
  return record;
}

bool sameRecord(const LeaseRecord& left, const LeaseRecord& right) {
  return left.holderIdentity == right.holderIdentity &&
         left.leaseDurationSeconds == right.leaseDurationSeconds &&
         left.acquireTime == right.acquireTime && left.renewTime == right.renewTime &&
         left.leaseTransitions == right.leaseTransitions;
}

int seconds(Duration duration) {
  return static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(duration).count());
}

}  // namespace

std::string formatMicroTime(SystemTime time) {
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch());
  const std::time_t whole = static_cast<std::time_t>(micros.count() / 1000000);
  std::tm utc{};
  gmtime_r(&whole, &utc);
  char text[40];
  const std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + length, sizeof text - length, ".%06lldZ",
                static_cast<long long>(micros.count() % 1000000));
  return text;
}

meshprobe::Result<bool> validate(const LeaderElectionConfig& config) {
  if (config.name.empty() || config.namespaceName.empty()) {
    return meshprobe::Error{"leader election needs the Lease's namespace and name"};
  }
  if (config.identity.empty()) return meshprobe::Error{"leader election needs an identity"};
  if (config.leaseDuration <= config.renewDeadline) {
    return meshprobe::Error{"the lease duration must be longer than the renew deadline"};
  }
  if (config.renewDeadline <= std::chrono::duration_cast<Duration>(config.retryPeriod * kRetryJitter)) {
    return meshprobe::Error{"the renew deadline must be longer than 1.2 times the retry period"};
  }
  return true;
}

LeaderElector::LeaderElector(KubernetesApi& api, LeaderElectionConfig config,
                             LeaderCallbacks callbacks, Clock& clock, Random& random,
                             MetricsRegistry& metrics, Logger& logger)
    : api_(api),
      config_(std::move(config)),
      callbacks_(std::move(callbacks)),
      clock_(clock),
      random_(random),
      logger_(logger),
      leaderGauge_(metrics
                       .gauge("leader_election_master_status",
                              "1 while this process is the leader, else 0.", {"name"})
                       .labels({config_.name})),
      transitions_(metrics
                       .counter("leader_election_transitions_total",
                                "Times this process started or stopped leading.", {"name"})
                       .labels({config_.name})) {}

LeaderElector::~LeaderElector() { stop(); }

void LeaderElector::start() {
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void LeaderElector::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

bool LeaderElector::isLeader() const {
  std::lock_guard lock(mutex_);
  return leading_;
}

void LeaderElector::observe(const LeaseRecord& record) {
  std::string previousHolder;
  {
    std::lock_guard lock(mutex_);
    if (observed_ && sameRecord(*observed_, record)) return;
    previousHolder = observed_ ? observed_->holderIdentity : "";
    observed_ = record;
    observedAt_ = clock_.now();
  }
  if (record.holderIdentity != previousHolder && !record.holderIdentity.empty() &&
      callbacks_.onNewLeader) {
    callbacks_.onNewLeader(record.holderIdentity);
  }
}

nlohmann::json LeaderElector::leaseObject(const LeaseRecord& record,
                                          const std::string& resourceVersion) const {
  nlohmann::json metadata = {{"name", config_.name}, {"namespace", config_.namespaceName}};
  if (!resourceVersion.empty()) metadata["resourceVersion"] = resourceVersion;
  nlohmann::json spec = {{"leaseDurationSeconds", record.leaseDurationSeconds},
                         {"leaseTransitions", record.leaseTransitions}};
  // An empty holder (a released Lease) is written as absent, as client-go does.
  if (!record.holderIdentity.empty()) spec["holderIdentity"] = record.holderIdentity;
  if (!record.acquireTime.empty()) spec["acquireTime"] = record.acquireTime;
  if (!record.renewTime.empty()) spec["renewTime"] = record.renewTime;
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata", metadata},
          {"spec", spec}};
}

bool LeaderElector::tryAcquireOrRenew() {
  const std::string now = formatMicroTime(clock_.systemNow());
  LeaseRecord desired{config_.identity, seconds(config_.leaseDuration), now, now, 0};

  auto current = api_.get(resources::kLeases, config_.namespaceName, config_.name);
  if (!current) {
    if (!current.error().is(ApiErrorKind::kNotFound)) {
      logger_.warning("leader election: cannot read Lease " + config_.namespaceName + "/" +
                      config_.name + ": " + current.error().message());
      return false;
    }
    auto created = api_.create(resources::kLeases, config_.namespaceName, leaseObject(desired, ""));
    if (!created) {
      logger_.warning("leader election: cannot create Lease: " + created.error().message());
      return false;
    }
    observe(desired);
    return true;
  }

  const LeaseRecord existing = readRecord(*current);
  observe(existing);
  const std::string resourceVersion =
      (*current)["metadata"].is_object() ? (*current)["metadata"].value("resourceVersion", "") : "";
  bool heldByUs = existing.holderIdentity == config_.identity;
  {
    std::lock_guard lock(mutex_);
    const Duration duration = std::chrono::seconds(existing.leaseDurationSeconds);
    const bool valid = observedAt_ + duration > clock_.now();
    if (!existing.holderIdentity.empty() && valid && !heldByUs) return false;
  }
  if (heldByUs) {
    desired.acquireTime = existing.acquireTime;
    desired.leaseTransitions = existing.leaseTransitions;
  } else {
    desired.leaseTransitions = existing.leaseTransitions + 1;
  }
  auto updated = api_.update(resources::kLeases, config_.namespaceName,
                             leaseObject(desired, resourceVersion));
  if (!updated) {
    // A conflict means another candidate wrote first: it wins this round.
    logger_.warning("leader election: cannot update Lease: " + updated.error().message());
    return false;
  }
  observe(desired);
  return true;
}

void LeaderElector::release() {
  std::string resourceVersion;
  LeaseRecord record;
  {
    auto current = api_.get(resources::kLeases, config_.namespaceName, config_.name);
    if (!current) return;
    record = readRecord(*current);
    if (record.holderIdentity != config_.identity) return;
    resourceVersion = (*current)["metadata"].value("resourceVersion", "");
  }
  const std::string now = formatMicroTime(clock_.systemNow());
  record.holderIdentity.clear();
  record.leaseDurationSeconds = 1;
  record.acquireTime = now;
  record.renewTime = now;
  auto updated = api_.update(resources::kLeases, config_.namespaceName,
                             leaseObject(record, resourceVersion));
  if (!updated) {
    logger_.warning("leader election: cannot release Lease: " + updated.error().message());
  } else {
    logger_.info("leader election: released Lease " + config_.namespaceName + "/" + config_.name);
  }
}

void LeaderElector::armDeadline(MonotonicTime lastRenewal) {
  TimerPtr previous;
  {
    std::lock_guard lock(mutex_);
    if (!leading_) return;
    previous = std::exchange(deadline_, clock_.schedule(lastRenewal + config_.renewDeadline, [this] {
      loseLeadership("no renewal succeeded for the renew deadline");
    }));
  }
}

void LeaderElector::becomeLeader() {
  std::stop_token leading;
  {
    std::lock_guard lock(mutex_);
    leading_ = true;
    leadingStop_ = std::stop_source();
    leading = leadingStop_.get_token();
  }
  leaderGauge_.set(1);
  transitions_.increment();
  logger_.info("leader election: " + config_.identity + " is now the leader (Lease " +
               config_.namespaceName + "/" + config_.name + ")");
  armDeadline(clock_.now());
  if (callbacks_.onStartedLeading) callbacks_.onStartedLeading(leading);
}

void LeaderElector::loseLeadership(const std::string& why) {
  TimerPtr deadline;
  {
    std::lock_guard lock(mutex_);
    if (!leading_) return;
    leading_ = false;
    leadingStop_.request_stop();
    // Called from the deadline timer itself, too: destroying it from inside is safe.
    deadline = std::move(deadline_);
  }
  leaderGauge_.set(0);
  transitions_.increment();
  logger_.warning("leader election: " + config_.identity + " stopped leading: " + why);
  if (callbacks_.onStoppedLeading) callbacks_.onStoppedLeading();
}

void LeaderElector::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    // Candidate: try until the Lease is ours.
    while (!tryAcquireOrRenew()) {
      if (!sleepFor(clock_, jitter(config_.retryPeriod, kRetryJitter, random_), stop)) return;
    }
    if (stop.stop_requested()) {
      release();
      return;
    }
    becomeLeader();
    // Leader: renew every retryPeriod; the deadline timer ends leadership if renewals fail.
    while (isLeader()) {
      if (!sleepFor(clock_, config_.retryPeriod, stop)) {
        loseLeadership("stopping");
        release();
        return;
      }
      const MonotonicTime attempt = clock_.now();
      if (tryAcquireOrRenew()) armDeadline(attempt);
    }
    // Lost: candidate again (the callbacks decide whether the process carries on).
  }
}

}  // namespace meshprobe::kube
