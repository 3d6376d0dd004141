#include "operator/policy_status_reconciler.h"

#include "operator/conditions.h"
#include "operator/workload_kinds.h"
#include "probe/object_fields.h"

namespace meshprobe::controller {
namespace {

using nlohmann::json;

bool without_selector(const probe::HealthProbePolicy& policy) {
  return !policy.selector || policy.selector->empty();
}

bool older(const probe::HealthProbePolicy& left, const probe::HealthProbePolicy& right) {
  return std::tie(left.creation_timestamp, left.name) <
         std::tie(right.creation_timestamp, right.name);
}

}  // namespace

PolicyStatusReconciler::PolicyStatusReconciler(const ClusterCache& cache, kube::KubernetesApi& api,
                                               kube::Clock& clock, kube::MetricsRegistry& metrics,
                                               kube::Logger& logger, std::string root_namespace,
                                               std::set<std::string> excluded_namespaces)
    : cache_(cache),
      api_(api),
      clock_(clock),
      logger_(logger),
      root_namespace_(std::move(root_namespace)),
      excluded_namespaces_(std::move(excluded_namespaces)),
      expectations_(clock, std::chrono::minutes(1)),
      writes_(metrics.counter("meshprobe_writes_total",
                              "Writes to the API server, by what was written.", {"kind"})) {}

PolicyCounts PolicyStatusReconciler::count(const probe::HealthProbePolicy& policy) const {
  PolicyCounts counts;
  const bool mesh_wide = policy.namespace_name == root_namespace_ && without_selector(policy);
  const auto workloads =
      mesh_wide ? cache_.workloads.list() : cache_.workloads.list_namespace(policy.namespace_name);
  std::map<std::string, std::vector<probe::HealthProbePolicy>> policies_by_namespace;
  for (const auto& [kind, workload] : workloads) {
    const std::string& namespace_name = workload->metadata.namespace_name;
    if (excluded_namespaces_.contains(namespace_name)) continue;
    auto [policies, inserted] = policies_by_namespace.try_emplace(namespace_name);
    if (inserted) policies->second = cache_.policies_for(namespace_name, root_namespace_);
    auto match = probe::select_policy(policies->second, root_namespace_, namespace_name,
                                      workload->value.template_labels);
    if (!match || match->policy->namespace_name != policy.namespace_name ||
        match->policy->name != policy.name || !workload->value.has_template)
      continue;
    const bool deployment = kind == &workload_kinds().front();
    const bool rewritten = workload->value.rewritten;
    ++counts.matched;
    counts.rewritten += rewritten;
    counts.matched_deployments += deployment;
    counts.rewritten_deployments += deployment && rewritten;
  }
  return counts;
}

kube::ReconcileResult PolicyStatusReconciler::reconcile(const std::string& key) {
  auto entry = cache_.policies.get(key);
  if (!entry) {
    expectations_.forget(key);
    return kube::ReconcileResult::done();
  }
  if (!expectations_.satisfied(key, entry->metadata.resource_version)) {
    return kube::ReconcileResult::requeue_after(expectations_.remaining(key));
  }
  const PolicyState& state = entry->value;

  Condition accepted{"Accepted", "True", "Accepted", "The policy is valid and in effect.",
                     state.generation};
  PolicyCounts counts;
  if (!state.policy) {
    accepted = {"Accepted", "False", "InvalidSpec", state.problem, state.generation};
  } else {
    const probe::HealthProbePolicy& policy = *state.policy;
    const probe::HealthProbePolicy* winner = nullptr;
    if (without_selector(policy)) {
      for (const auto& other : cache_.policies.list_namespace(policy.namespace_name)) {
        const auto& candidate = other->value.policy;
        if (candidate && candidate->name != policy.name && without_selector(*candidate) &&
            older(*candidate, policy) && (!winner || older(*candidate, *winner))) {
          winner = &*candidate;
        }
      }
    }
    if (winner) {
      accepted = {
          "Accepted", "False", "Superseded",
          winner->reference() +
              " is older and equally specific (no selector, same namespace); it decides instead.",
          state.generation};
    } else {
      counts = count(policy);
    }
  }

  const json* existing_conditions = probe::find_member(state.status, "conditions");
  static const json kNoConditions = json::array();
  auto entry_to_write =
      condition_to_write(existing_conditions ? *existing_conditions : kNoConditions, accepted,
                         ConditionShape::kMetav1, format_time(clock_.system_now()));
  const bool same_counts =
      state.status.is_object() && state.status.value("matchedWorkloads", -1) == counts.matched &&
      state.status.value("rewrittenWorkloads", -1) == counts.rewritten &&
      state.status.value("matchedDeployments", -1) == counts.matched_deployments &&
      state.status.value("rewrittenDeployments", -1) == counts.rewritten_deployments &&
      state.status.value("observedGeneration", -1LL) == state.generation;
  if (!entry_to_write && same_counts) return kube::ReconcileResult::done();

  // A merge patch replaces the whole list: keep the other conditions as they are.
  json conditions = json::array();
  if (existing_conditions && existing_conditions->is_array()) {
    for (const auto& condition : *existing_conditions) {
      if (condition.value("type", "") != accepted.type) conditions.push_back(condition);
    }
  }
  conditions.push_back(entry_to_write ? *entry_to_write
                                      : *find_condition(*existing_conditions, accepted.type));
  const json patch = {{"status",
                       {{"observedGeneration", state.generation},
                        {"matchedWorkloads", counts.matched},
                        {"rewrittenWorkloads", counts.rewritten},
                        {"matchedDeployments", counts.matched_deployments},
                        {"rewrittenDeployments", counts.rewritten_deployments},
                        {"conditions", conditions}}}};
  auto patched = api_.patch(kHealthProbePolicies, entry->metadata.namespace_name,
                            entry->metadata.name, kube::PatchType::kMerge, patch.dump(),
                            {.field_manager = kFieldManager, .subresource = "status"});
  if (!patched) {
    if (patched.error().is(kube::ApiErrorKind::kNotFound)) return kube::ReconcileResult::done();
    return kube::ReconcileResult::retry(
        "writing the status of HealthProbePolicy " + key + ": " + patched.error().message(),
        patched.error());
  }
  writes_.labels({"policy_status"}).increment();
  expectations_.expect(key, {entry->metadata.resource_version});
  if (entry_to_write) {
    logger_.info("HealthProbePolicy " + key + ": Accepted=" + accepted.status + " (" +
                 accepted.reason + ")" +
                 (accepted.status == "True" ? "" : ": " + accepted.message));
  }
  return kube::ReconcileResult::done();
}

}  // namespace meshprobe::controller
