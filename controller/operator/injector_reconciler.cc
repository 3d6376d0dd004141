#include "operator/injector_reconciler.h"

#include "operator/injector_toggle.h"

namespace meshprobe::controller {

using nlohmann::json;

std::optional<bool> mesh_wide_toggle(std::span<const probe::HealthProbePolicy> policies,
                                     const std::string& root_namespace) {
  // A workload in no namespace at all sees only mesh-wide policies.
  auto match = probe::select_policy(policies, root_namespace, "", {});
  if (!match || match->level != probe::PolicyLevel::kMesh) return std::nullopt;
  return match->policy->mode != probe::PolicyMode::kNever;
}

InjectorReconciler::InjectorReconciler(const ClusterCache& cache, kube::KubernetesApi& api,
                                       kube::MetricsRegistry& metrics, kube::Logger& logger,
                                       std::string root_namespace, bool default_rewrite)
    : cache_(cache),
      api_(api),
      logger_(logger),
      root_namespace_(std::move(root_namespace)),
      default_rewrite_(default_rewrite),
      writes_(metrics.counter("meshprobe_writes_total",
                              "Writes to the API server, by what was written.", {"kind"})) {}

std::string InjectorReconciler::key() const {
  return kube::object_key(root_namespace_, kInjectorConfigMapName);
}

kube::ReconcileResult InjectorReconciler::reconcile(const std::string&) {
  auto config_map = cache_.injector.get(key());
  const auto policies = cache_.policies_for(root_namespace_, root_namespace_);
  const auto policy_value = mesh_wide_toggle(policies, root_namespace_);
  const auto values = config_map ? config_map->value.values : std::nullopt;
  const InjectorValuesPlan plan = plan_injector_values(values, policy_value, default_rewrite_);
  if (plan.problem != last_problem_) {
    if (!plan.problem.empty()) logger_.warning("ConfigMap " + key() + ": " + plan.problem);
    last_problem_ = plan.problem;
  }
  if (!plan.values) return kube::ReconcileResult::done();

  if (!config_map) {
    const json object = {
        {"apiVersion", "v1"},
        {"kind", "ConfigMap"},
        {"metadata", {{"name", kInjectorConfigMapName}, {"namespace", root_namespace_}}},
        {"data", {{kInjectorValuesKey, *plan.values}}}};
    auto created = api_.create(kube::resources::kConfigMaps, root_namespace_, object,
                               {.field_manager = kFieldManager});
    if (!created) {
      return kube::ReconcileResult::retry(
          "creating ConfigMap " + key() + ": " + created.error().message(), created.error());
    }
    writes_.labels({"configmap"}).increment();
    logger_.info("created ConfigMap " + key() + " with the global probe-rewrite toggle");
    return kube::ReconcileResult::done();
  }
  const std::string path = std::string("/data/") + kInjectorValuesKey;
  // Conditional on the version read: a concurrent edit (the seed's `kubectl apply`) gives 409
  // Conflict, never a lost edit (see template_patch in workload_reconciler.cc).
  json patch = json::array({{{"op", "replace"},
                             {"path", "/metadata/resourceVersion"},
                             {"value", config_map->metadata.resource_version}}});
  if (config_map->value.has_data) {
    patch.push_back(
        {{"op", "add"}, {"path", path}, {"value", *plan.values}});  // add replaces a present member
  } else {
    patch.push_back(
        {{"op", "add"}, {"path", "/data"}, {"value", {{kInjectorValuesKey, *plan.values}}}});
  }
  auto patched = api_.patch(kube::resources::kConfigMaps, root_namespace_, kInjectorConfigMapName,
                            kube::PatchType::kJson, patch.dump(), {.field_manager = kFieldManager});
  if (!patched) {
    return kube::ReconcileResult::retry(
        "updating ConfigMap " + key() + ": " + patched.error().message(), patched.error());
  }
  writes_.labels({"configmap"}).increment();
  logger_.info("set the global probe-rewrite toggle in ConfigMap " + key());
  return kube::ReconcileResult::done();
}

}  // namespace meshprobe::controller
