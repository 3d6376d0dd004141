#include "kube/leader_election.h"

#include <ctime>
#include <utility>

namespace meshprobe::kube {
namespace {

constexpr double kRetryJitter = 1.2;  // client-go's JitterFactor

LeaseRecord read_record(const nlohmann::json& lease) {
  LeaseRecord record;
  const auto spec = lease.find("spec");
  if (spec == lease.end() || !spec->is_object()) return record;
  record.holder_identity = spec->value("holderIdentity", "");
  record.lease_duration_seconds = spec->value("leaseDurationSeconds", 0);
  record.acquire_time = spec->value("acquireTime", "");
  record.renew_time = spec->value("renewTime", "");
  record.lease_transitions = spec->value("leaseTransitions", 0);
  return record;
}

bool same_record(const LeaseRecord& left, const LeaseRecord& right) {
  return left.holder_identity == right.holder_identity &&
         left.lease_duration_seconds == right.lease_duration_seconds &&
         left.acquire_time == right.acquire_time && left.renew_time == right.renew_time &&
         left.lease_transitions == right.lease_transitions;
}

int seconds(Duration duration) {
  return static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(duration).count());
}

}  // namespace

std::string format_micro_time(SystemTime time) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch());
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
  if (config.name.empty() || config.namespace_name.empty()) {
    return meshprobe::Error{"leader election needs the Lease's namespace and name"};
  }
  if (config.identity.empty()) return meshprobe::Error{"leader election needs an identity"};
  if (config.lease_duration <= config.renew_deadline) {
    return meshprobe::Error{"the lease duration must be longer than the renew deadline"};
  }
  if (config.renew_deadline <=
      std::chrono::duration_cast<Duration>(config.retry_period * kRetryJitter)) {
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
      leader_gauge_(metrics
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

bool LeaderElector::is_leader() const {
  std::lock_guard lock(mutex_);
  return leading_;
}

std::optional<std::string> LeaderElector::problem() const {
  std::lock_guard lock(mutex_);
  return problem_;
}

void LeaderElector::report(const std::string& action, const ApiError* error) {
  const std::string lease = config_.namespace_name + "/" + config_.name;
  std::optional<std::string> problem;
  if (error != nullptr && error->is(ApiErrorKind::kNotFound) && action == "create") {
    // A Lease's create fails with NotFound only when its namespace does not exist.
    problem = "namespace " + config_.namespace_name + " not found (create it: kubectl create " +
              "namespace " + config_.namespace_name +
              "; or name another with --leader-election-namespace, or run without " +
              "--leader-elect)";
  } else if (error != nullptr &&
             (error->is(ApiErrorKind::kForbidden) || error->is(ApiErrorKind::kUnauthorized))) {
    problem = "not allowed to " + action + " the Lease " + lease + " (" + error->detail +
              "; grant get, create and update on leases.coordination.k8s.io in namespace " +
              config_.namespace_name + ", as config/rbac's Role does, or run without " +
              "--leader-elect)";
  }
  bool repeated = false;
  {
    std::lock_guard lock(mutex_);
    repeated = problem_ == problem;
    problem_ = problem;
  }
  if (problem) {
    logger_.log(repeated ? LogLevel::kDebug : LogLevel::kError,
                "leader election: cannot " + action + " Lease " + lease + ": " + *problem);
  } else if (error != nullptr) {
    // Transient (the API server is away, or another candidate wrote first): retried.
    logger_.warning("leader election: cannot " + action + " Lease " + lease + ": " +
                    error->message());
  }
}

void LeaderElector::observe(const LeaseRecord& record) {
  std::string previous_holder;
  {
    std::lock_guard lock(mutex_);
    if (observed_ && same_record(*observed_, record)) return;
    previous_holder = observed_ ? observed_->holder_identity : "";
    observed_ = record;
    observed_at_ = clock_.now();
  }
  if (record.holder_identity != previous_holder && !record.holder_identity.empty() &&
      callbacks_.on_new_leader) {
    callbacks_.on_new_leader(record.holder_identity);
  }
}

nlohmann::json LeaderElector::lease_object(const LeaseRecord& record,
                                           const std::string& resource_version) const {
  nlohmann::json metadata = {{"name", config_.name}, {"namespace", config_.namespace_name}};
  if (!resource_version.empty()) metadata["resourceVersion"] = resource_version;
  nlohmann::json spec = {{"leaseDurationSeconds", record.lease_duration_seconds},
                         {"leaseTransitions", record.lease_transitions}};
  // An empty holder (a released Lease) is written as absent, as client-go does.
  if (!record.holder_identity.empty()) spec["holderIdentity"] = record.holder_identity;
  if (!record.acquire_time.empty()) spec["acquireTime"] = record.acquire_time;
  if (!record.renew_time.empty()) spec["renewTime"] = record.renew_time;
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata", metadata},
          {"spec", spec}};
}

bool LeaderElector::try_acquire_or_renew() {
  const std::string now = format_micro_time(clock_.system_now());
  LeaseRecord desired{config_.identity, seconds(config_.lease_duration), now, now, 0};

  auto current = api_.get(resources::kLeases, config_.namespace_name, config_.name);
  if (!current) {
    if (!current.error().is(ApiErrorKind::kNotFound)) {
      report("read", &current.error());
      return false;
    }
    auto created =
        api_.create(resources::kLeases, config_.namespace_name, lease_object(desired, ""));
    if (!created) {
      report("create", &created.error());
      return false;
    }
    report("create", nullptr);
    observe(desired);
    return true;
  }

  const LeaseRecord existing = read_record(*current);
  observe(existing);
  const std::string resource_version =
      (*current)["metadata"].is_object() ? (*current)["metadata"].value("resourceVersion", "") : "";
  bool held_by_us = existing.holder_identity == config_.identity;
  {
    std::lock_guard lock(mutex_);
    const Duration duration = std::chrono::seconds(existing.lease_duration_seconds);
    const bool valid = observed_at_ + duration > clock_.now();
    if (!existing.holder_identity.empty() && valid && !held_by_us) {
      problem_.reset();  // another replica leads: this one competes normally
      return false;
    }
  }
  if (held_by_us) {
    desired.acquire_time = existing.acquire_time;
    desired.lease_transitions = existing.lease_transitions;
  } else {
    desired.lease_transitions = existing.lease_transitions + 1;
  }
  auto updated = api_.update(resources::kLeases, config_.namespace_name,
                             lease_object(desired, resource_version));
  if (!updated) {
    // A conflict means another candidate wrote first: it wins this round.
    report("update", &updated.error());
    return false;
  }
  report("update", nullptr);
  observe(desired);
  return true;
}

void LeaderElector::release() {
  std::string resource_version;
  LeaseRecord record;
  {
    auto current = api_.get(resources::kLeases, config_.namespace_name, config_.name);
    if (!current) return;
    record = read_record(*current);
    if (record.holder_identity != config_.identity) return;
    resource_version = (*current)["metadata"].value("resourceVersion", "");
  }
  const std::string now = format_micro_time(clock_.system_now());
  record.holder_identity.clear();
  record.lease_duration_seconds = 1;
  record.acquire_time = now;
  record.renew_time = now;
  auto updated = api_.update(resources::kLeases, config_.namespace_name,
                             lease_object(record, resource_version));
  if (!updated) {
    logger_.warning("leader election: cannot release Lease: " + updated.error().message());
  } else {
    logger_.info("leader election: released Lease " + config_.namespace_name + "/" + config_.name);
  }
}

void LeaderElector::arm_deadline(MonotonicTime last_renewal) {
  TimerPtr previous;
  {
    std::lock_guard lock(mutex_);
    if (!leading_) return;
    previous =
        std::exchange(deadline_, clock_.schedule(last_renewal + config_.renew_deadline, [this] {
          lose_leadership("no renewal succeeded for the renew deadline", LogLevel::kWarning);
        }));
  }
}

void LeaderElector::become_leader() {
  std::stop_token leading;
  {
    std::lock_guard lock(mutex_);
    leading_ = true;
    leading_stop_ = std::stop_source();
    leading = leading_stop_.get_token();
  }
  leader_gauge_.set(1);
  transitions_.increment();
  logger_.info("leader election: " + config_.identity + " is now the leader (Lease " +
               config_.namespace_name + "/" + config_.name + ")");
  arm_deadline(clock_.now());
  if (callbacks_.on_started_leading) callbacks_.on_started_leading(leading);
}

void LeaderElector::lose_leadership(const std::string& why, LogLevel level) {
  TimerPtr deadline;
  {
    std::lock_guard lock(mutex_);
    if (!leading_) return;
    leading_ = false;
    leading_stop_.request_stop();
    // Called from the deadline timer itself, too: destroying it from inside is safe.
    deadline = std::move(deadline_);
  }
  leader_gauge_.set(0);
  transitions_.increment();
  logger_.log(level, "leader election: " + config_.identity + " stopped leading: " + why);
  if (callbacks_.on_stopped_leading) callbacks_.on_stopped_leading();
}

void LeaderElector::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    // Candidate: try until the Lease is ours.
    while (!try_acquire_or_renew()) {
      if (!sleep_for(clock_, jitter(config_.retry_period, kRetryJitter, random_), stop)) return;
    }
    if (stop.stop_requested()) {
      release();
      return;
    }
    become_leader();
    // Leader: renew every retryPeriod; the deadline timer ends leadership if renewals fail.
    while (is_leader()) {
      if (!sleep_for(clock_, config_.retry_period, stop)) {
        lose_leadership("stopping", LogLevel::kInfo);  // a shutdown, not a failure
        release();
        return;
      }
      const MonotonicTime attempt = clock_.now();
      if (try_acquire_or_renew()) arm_deadline(attempt);
    }
    // Lost: candidate again (the callbacks decide whether the process carries on).
  }
}

}  // namespace meshprobe::kube
