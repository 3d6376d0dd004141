// What the controller decides for one cached workload, before any write: the engine's decision
// (from the caches: its namespace, the policies, the PeerAuthentications, the global toggle),
// the engine's rewrite or restore of its current pod template, and the condition it converges
// to. Pure: reads the caches, writes nothing. The reconciler acts on it (reconcile()), and
// `meshprobe preview` prints it (preview.h): one function, so the two cannot disagree.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "operator/cluster_state.h"
#include "operator/controller_config.h"
#include "operator/deployment_reconciler.h"
#include "probe/condition.h"
#include "probe/decision.h"
#include "probe/rewrite.h"

namespace meshprobe::controller {

using WorkloadPlanOptions = DeploymentReconcilerOptions;

// The reconciler's settings from the controller's config (agent, root namespace, toggle default,
// excluded namespaces), for the controller and the preview alike.
WorkloadPlanOptions plan_options(const ControllerConfig& config);

struct WorkloadPlan {
  // Why the controller leaves the workload alone (an excluded namespace; ConflictingWriter kept
  // by its condition until the template changes); nullopt when it acts on the plan.
  std::optional<std::string> skip;
  probe::Decision decision;
  nlohmann::json pod_template;  // the current one, decoded from the cache
  // rewrite() when decision.rewrite, else restore(), of the current template; nullopt when the
  // template is not a pod template (the condition then says InvalidProbe and why).
  std::optional<probe::RewriteResult> result;
  // The condition the workload converges to (as the reconcile after the write will see it).
  probe::ConditionSummary condition;
};

// The decision for a cached workload from everything else in the cache.
probe::Decision decide_workload(const ClusterCache& cache, const WorkloadPlanOptions& options,
                                const kube::ObjectMeta& metadata, const DeploymentState& state,
                                const nlohmann::json& pod_template);

WorkloadPlan plan_workload(const ClusterCache& cache, const WorkloadPlanOptions& options,
                           const kube::ObjectMeta& metadata, const DeploymentState& state);

// The message of a ConflictingWriter condition that still holds: meshprobe stopped rewriting
// and nobody changed the template since (then `kubectl rollout restart` asks for a retry).
std::optional<std::string> conflicting_writer_stop(const DeploymentState& state);

}  // namespace meshprobe::controller
