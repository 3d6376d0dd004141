#include "operator/workload_kinds.h"

#include <charconv>

#include "probe/object_fields.h"

namespace meshprobe::controller {
namespace {

using nlohmann::json;

const json& member_or_null(const json* object, std::string_view key) {
  static const json kNull;
  if (!object) return kNull;
  const json* found = probe::find_member(*object, key);
  return found ? *found : kNull;
}

// An integer field that may be served as a number or as decimal text (Argo Rollouts writes
// status.observedGeneration as a string); `fallback` when absent or neither.
long long integer(const json& value, long long fallback) {
  if (value.is_number_integer()) return value.get<long long>();
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    long long parsed = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    if (error == std::errc() && end == text.data() + text.size()) return parsed;
  }
  return fallback;
}

struct Common {
  const json* spec;
  const json* status;
  long long generation;
  long long observed_generation;
  long long desired_replicas;  // spec.replicas, default 1
};

Common read_common(const json& object) {
  const json* metadata = probe::find_member(object, "metadata");
  const json* spec = probe::find_member(object, "spec");
  const json* status = probe::find_member(object, "status");
  return {spec, status, integer(member_or_null(metadata, "generation"), 0),
          integer(member_or_null(status, "observedGeneration"), -1),
          integer(member_or_null(spec, "replicas"), 1)};
}

// As `kubectl rollout status` reads each kind (k8s.io/kubectl/pkg/polymorphichelpers).
RolloutProgress deployment_progress(const json& object) {
  const Common c = read_common(object);
  const long long updated = integer(member_or_null(c.status, "updatedReplicas"), 0);
  const long long replicas = integer(member_or_null(c.status, "replicas"), 0);
  const long long available = integer(member_or_null(c.status, "availableReplicas"), 0);
  return {c.observed_generation >= c.generation && updated >= c.desired_replicas &&
          replicas <= updated && available >= updated};
}

RolloutProgress stateful_set_progress(const json& object) {
  const Common c = read_common(object);
  const json* strategy = c.spec ? probe::find_member(*c.spec, "updateStrategy") : nullptr;
  const json& strategy_type = member_or_null(strategy, "type");
  const json& policy = member_or_null(c.spec, "podManagementPolicy");
  const bool ordered_ready = !policy.is_string() || policy.get<std::string>() != "Parallel";
  const bool rolling = !strategy_type.is_string() || strategy_type.get<std::string>() != "OnDelete";
  const long long ready = integer(member_or_null(c.status, "readyReplicas"), 0);
  RolloutProgress progress{.waits_for_unready_pods =
                               ordered_ready && rolling && ready < c.desired_replicas};
  const json* rolling_update = strategy ? probe::find_member(*strategy, "rollingUpdate") : nullptr;
  const long long partition = integer(member_or_null(rolling_update, "partition"), 0);
  const long long updated = integer(member_or_null(c.status, "updatedReplicas"), 0);
  if (c.observed_generation < c.generation) {
    progress.finished = false;
  } else if (partition > 0) {
    progress.finished = updated >= c.desired_replicas - partition;
  } else {
    progress.finished =
        ready >= c.desired_replicas &&
        member_or_null(c.status, "currentRevision") == member_or_null(c.status, "updateRevision");
  }
  return progress;
}

RolloutProgress daemon_set_progress(const json& object) {
  const Common c = read_common(object);
  const long long desired = integer(member_or_null(c.status, "desiredNumberScheduled"), 0);
  const long long updated = integer(member_or_null(c.status, "updatedNumberScheduled"), 0);
  const long long available = integer(member_or_null(c.status, "numberAvailable"), 0);
  return {c.observed_generation >= c.generation && updated >= desired && available >= desired};
}

RolloutProgress no_rollout(const json&) { return {true}; }

// Argo Rollouts: the controller observed the spec and every replica is updated and available
// (a paused canary is unfinished until it is promoted or aborted).
RolloutProgress argo_rollout_progress(const json& object) {
  const Common c = read_common(object);
  const long long updated = integer(member_or_null(c.status, "updatedReplicas"), 0);
  const long long available = integer(member_or_null(c.status, "availableReplicas"), 0);
  return {c.observed_generation >= c.generation && updated >= c.desired_replicas &&
          available >= c.desired_replicas};
}

}  // namespace

const std::vector<WorkloadKind>& workload_kinds() {
  static const std::vector<WorkloadKind> kinds = {
      {.kind = "Deployment",
       .resource = kube::resources::kDeployments,
       .template_path = {"spec", "template"},
       .status = StatusStyle::kApplyCondition,
       .condition_shape = ConditionShape::kDeployment,
       .read_progress = deployment_progress},
      // Annotations, though its status has conditions: kube-controller-manager's StatefulSet
      // controller builds each status from scratch and writes it whole (k8s.io/kubernetes
      // pkg/controller/statefulset, 1.35), dropping a condition of ours at every status change.
      {.kind = "StatefulSet",
       .resource = {"apps", "v1", "statefulsets", "StatefulSet", true},
       .template_path = {"spec", "template"},
       .status = StatusStyle::kAnnotations,
       .condition_shape = ConditionShape::kPlain,
       .has_update_strategy = true,
       .read_progress = stateful_set_progress},
      {.kind = "DaemonSet",
       .resource = {"apps", "v1", "daemonsets", "DaemonSet", true},
       .template_path = {"spec", "template"},
       .status = StatusStyle::kApplyCondition,
       .condition_shape = ConditionShape::kPlain,
       .has_update_strategy = true,
       .read_progress = daemon_set_progress},
      {.kind = "CronJob",
       .resource = {"batch", "v1", "cronjobs", "CronJob", true},
       .template_path = {"spec", "jobTemplate", "spec", "template"},
       .status = StatusStyle::kAnnotations,
       .condition_shape = ConditionShape::kPlain,
       .rolls_out = false,
       .read_progress = no_rollout},
      {.kind = "Rollout",
       .resource = {"argoproj.io", "v1alpha1", "rollouts", "Rollout", true},
       .needs_discovery = true,
       .template_path = {"spec", "template"},
       .status = StatusStyle::kPatchConditionList,
       .condition_shape = ConditionShape::kDeployment,  // RolloutCondition has both times
       .read_progress = argo_rollout_progress},
  };
  return kinds;
}

const WorkloadKind* find_workload_kind(std::string_view kind) {
  for (const auto& row : workload_kinds()) {
    if (row.kind == kind) return &row;
  }
  return nullptr;
}

std::size_t kind_index(const WorkloadKind& kind) {
  return static_cast<std::size_t>(&kind - workload_kinds().data());
}

const json* find_pod_template(const json& object, const WorkloadKind& kind) {
  const json* at = &object;
  for (const auto& step : kind.template_path) {
    at = probe::find_member(*at, step);
    if (!at) return nullptr;
  }
  return at;
}

std::string template_pointer(const WorkloadKind& kind) {
  std::string pointer;
  for (const auto& step : kind.template_path) pointer += "/" + step;
  return pointer;
}

std::string workload_key(const WorkloadKind& kind, const std::string& object_key) {
  return std::string(kind.kind) + "/" + object_key;
}

std::optional<WorkloadKey> parse_workload_key(std::string_view key) {
  const auto slash = key.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const WorkloadKind* kind = find_workload_kind(key.substr(0, slash));
  if (!kind) return std::nullopt;
  return WorkloadKey{kind, std::string(key.substr(slash + 1))};
}

}  // namespace meshprobe::controller
