#include "operator/workload_plan.h"

#include <algorithm>

#include "operator/injector_toggle.h"
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
  const auto policies = cache.policies_for(metadata.namespace_name, options.root_namespace);
  const auto peer_authentications =
      cache.peer_authentications_for(metadata.namespace_name, options.root_namespace);
  probe::DecisionInput input;
  input.workload_metadata = &workload_metadata;
  input.template_metadata = probe::find_member(pod_template, "metadata");
  input.namespace_name = metadata.namespace_name;
  input.namespace_labels = cache.namespace_labels(metadata.namespace_name);
  input.policies = policies;
  input.peer_authentications = peer_authentications;
  input.root_namespace = options.root_namespace;
  input.rewrite_globally =
      read_injector_toggle(cache.injector_values()).rewrite.value_or(options.default_rewrite);
  return probe::decide(input);
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
  auto result = plan.decision.rewrite
                    ? probe::rewrite(plan.pod_template, options.agent, plan.decision.scope)
                    : probe::restore(plan.pod_template, options.agent.port);
  if (!result) {
    plan.condition = {false, probe::ConditionReason::kInvalidProbe,
                      "The pod template cannot be rewritten: " + result.error().message};
    return plan;
  }
  plan.result = std::move(*result);
  plan.condition = probe::summarize(plan.decision, *plan.result);
  if (plan.result->changed) {
    // The condition describes the template it converges to, as the next reconcile will see it.
    auto converged =
        plan.decision.rewrite
            ? probe::rewrite(plan.result->pod_template, options.agent, plan.decision.scope)
            : probe::restore(plan.result->pod_template, options.agent.port);
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
