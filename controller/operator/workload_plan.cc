#include "operator/workload_plan.h"

#include <algorithm>

#include "operator/decision_inputs.h"
#include "probe/object_fields.h"

namespace meshprobe::controller {

using nlohmann::json;

WorkloadPlanOptions plan_options(const ControllerConfig& config) {
  WorkloadPlanOptions options;
  options.agent = {config.agent_image, config.agent_port};
  options.root_namespace = config.root_namespace;
  options.default_rewrite = config.default_rewrite;
  options.excluded_namespaces = {config.excluded_namespaces.begin(),
                                 config.excluded_namespaces.end()};
  return options;
}

probe::Decision decide_workload(const ClusterCache& cache, const WorkloadPlanOptions& options,
                                const kube::ObjectMeta& metadata, const DeploymentState& state,
                                const json& pod_template) {
  const json workload_metadata = state.workload_metadata();
  const DecisionInputs inputs(cache, {options.root_namespace, options.default_rewrite},
                              "Deployment", metadata.namespace_name, workload_metadata,
                              pod_template);
  return probe::decide(inputs.input());
}

std::optional<std::string> conflicting_writer_stop(const DeploymentState& state) {
  const json condition = state.condition.decode();
  if (!condition.is_object() ||
      condition.value("reason", "") !=
          probe::condition_reason_name(probe::ConditionReason::kConflictingWriter))
    return std::nullopt;
  const std::string stopped_at = condition.value("lastTransitionTime", "");
  const bool changed_since = std::any_of(
      state.managers.begin(), state.managers.end(),
      [&](const ManagerSummary& m) { return m.owns_template_fields && m.time > stopped_at; });
  if (changed_since) return std::nullopt;
  return condition.value("message", "");
}

WorkloadPlan plan_workload(const ClusterCache& cache, const WorkloadPlanOptions& options,
                           const kube::ObjectMeta& metadata, const DeploymentState& state) {
  WorkloadPlan plan;
  if (options.excluded_namespaces.contains(metadata.namespace_name)) {
    plan.skip = "the namespace " + metadata.namespace_name +
                " is excluded (excludedNamespaces): meshprobe never touches it";
    return plan;
  }
  plan.pod_template = state.pod_template.decode();
  plan.decision = decide_workload(cache, options, metadata, state, plan.pod_template);
  auto result = probe::apply_decision(plan.decision, plan.pod_template, options.agent);
  if (!result) {
    plan.condition = {false, probe::ConditionReason::kInvalidProbe,
                      "The pod template cannot be rewritten: " + result.error().message};
    return plan;
  }
  plan.result = std::move(*result);
  plan.condition = probe::summarize(plan.decision, *plan.result);
  if (plan.result->changed) {
    // The condition describes the template it converges to, as the next reconcile will see it.
    auto converged = probe::apply_decision(plan.decision, plan.result->pod_template, options.agent);
    if (converged) plan.condition = probe::summarize(plan.decision, *converged);
    if (plan.decision.rewrite) {
      if (auto stop = conflicting_writer_stop(state)) {
        plan.skip = *stop;
        plan.condition = {false, probe::ConditionReason::kConflictingWriter, *stop};
      }
    }
  }
  return plan;
}

}  // namespace meshprobe::controller
