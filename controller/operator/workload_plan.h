// What the controller decides for one cached workload of any kind, before any write: the
// engine's decision (from the caches: its namespace, the policies, PeerAuthentications and
// AuthorizationPolicies, the toggles), the engine's rewrite or restore of its current pod
// template (with the hold on Istio's own rewrite), and the condition it converges to. Pure:
// reads the caches, writes nothing. The reconciler acts on it (workload_reconciler.h), and
// `meshprobe preview` prints it (preview.h): one function, so the two cannot disagree.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "operator/cluster_state.h"
#include "operator/controller_config.h"
#include "operator/workload_kinds.h"
#include "operator/workload_reconciler.h"
#include "probe/condition.h"
#include "probe/decision.h"
#include "probe/rewrite.h"

namespace meshprobe::controller {

using WorkloadPlanOptions = WorkloadReconcilerOptions;

// The sentence the condition (and Event) of a workload with updateStrategy OnDelete ends with.
inline constexpr std::string_view kOnDeleteNote =
    " The workload's updateStrategy is OnDelete: its Pods pick the change up when they are "
    "recreated.";

// The Warning Event (RolloutWaitsForReadyPods) after a template write to a workload whose
// controller replaces Pods only while all are Ready, and some are not (a StatefulSet with
// podManagementPolicy OrderedReady: RolloutProgress::waits_for_unready_pods).
inline constexpr std::string_view kWaitsForUnreadyPodsNote =
    "Not every Pod is Ready, and a StatefulSet with podManagementPolicy OrderedReady replaces "
    "its Pods only while all of them are Ready: if they stay not Ready (for instance because "
    "their original probes fail under mutual TLS), delete the Pods that are not Ready and the "
    "StatefulSet recreates them with the new template. meshprobe does not count this write "
    "against maxConcurrentRollouts.";

// The reconciler's settings from the controller's config (agent, root namespace, toggle default,
// excluded namespaces, owned templates), for the controller and the preview alike.
WorkloadPlanOptions plan_options(const ControllerConfig& config);

// Why the controller leaves a workload's template alone.
enum class PlanSkip {
  kNone,               // it acts on the plan
  kExcludedNamespace,  // excludedNamespaces: not even a condition
  kTemplateElsewhere,  // a Rollout with workloadRef: the Deployment it names is reconciled
  kOwnedByController,  // another controller owns the template (condition OwnedByController)
  kConflictingWriter,  // stopped earlier, and nobody changed the template since
};

struct WorkloadPlan {
  PlanSkip skip = PlanSkip::kNone;
  std::string skip_message;  // why, when skip != kNone
  probe::Decision decision;
  nlohmann::json pod_template;  // the current one, decoded from the cache
  // apply_decision() of the current template; nullopt when the template is not a pod
  // template (the condition then says InvalidProbe and why), or when skipped.
  std::optional<probe::RewriteResult> result;
  // The condition the workload converges to (as the reconcile after the write will see it).
  probe::ConditionSummary condition;
};

// The decision for a cached workload from everything else in the cache.
probe::Decision decide_workload(const ClusterCache& cache, const WorkloadPlanOptions& options,
                                const WorkloadKind& kind, const kube::ObjectMeta& metadata,
                                const WorkloadState& state, const nlohmann::json& pod_template);

WorkloadPlan plan_workload(const ClusterCache& cache, const WorkloadPlanOptions& options,
                           const WorkloadKind& kind, const kube::ObjectMeta& metadata,
                           const WorkloadState& state);

// The message of a ConflictingWriter condition that still holds: meshprobe stopped rewriting
// and nobody changed the template since (then `kubectl rollout restart` asks for a retry).
std::optional<std::string> conflicting_writer_stop(const WorkloadState& state);

}  // namespace meshprobe::controller
