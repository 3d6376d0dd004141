#include "operator/preview.h"

#include <algorithm>
#include <tuple>

#include "kube/clock.h"
#include "kube/discovery.h"
#include "kube/informer.h"
#include "kube/logger.h"
#include "kube/metrics.h"
#include "kube/random.h"
#include "operator/cluster_state.h"
#include "operator/conditions.h"
#include "operator/injector_toggle.h"
#include "operator/policy_status_reconciler.h"
#include "probe/names.h"
#include "probe/object_fields.h"
#include "probe/rewrite.h"

namespace meshprobe::controller {
namespace {

using nlohmann::json;

constexpr std::int64_t kPageSize = 500;

class SilentLogger final : public kube::Logger {
 public:
  void log(kube::LogLevel, std::string_view) override {}
};

// What the API server said, as the one line the command prints.
Error describe(const kube::ApiError& error, const std::string& what) {
  switch (error.kind) {
    case kube::ApiErrorKind::kTransport:
    case kube::ApiErrorKind::kTimeout:
      return {"cannot reach the API server: " + error.message()};
    case kube::ApiErrorKind::kUnauthorized:
      return {"the API server does not accept these credentials (401) while reading " + what +
              ": " + error.detail};
    case kube::ApiErrorKind::kForbidden:
      return {"forbidden to read " + what + " (" + error.detail +
              "); meshprobe preview needs the ClusterRole meshprobe-preview"};
    default:
      return {"reading " + what + ": " + error.message()};
  }
}

std::string where(const std::string& namespace_name) {
  return namespace_name.empty() ? "in every namespace" : "in namespace " + namespace_name;
}

// One list of `type` (every page) into `informer`, as the informer's first list would fill it.
template <typename T>
Result<bool> load(kube::KubernetesApi& api, kube::Informer<T>& informer,
                  const kube::ResourceType& type, const std::string& namespace_name,
                  kube::ListOptions options) {
  auto listed = kube::list_all_pages(
      api, type, namespace_name, std::move(options), kPageSize,
      [&](json item) { informer.apply(kube::WatchEventType::kAdded, std::move(item)); });
  if (!listed) return describe(listed.error(), type.plural + " " + where(namespace_name));
  return true;
}

// The namespaces a workload in `namespace_name` ("" = all) reads policies and
// PeerAuthentications from: its own and the root namespace.
std::vector<std::string> decision_namespaces(const std::string& namespace_name,
                                             const std::string& root) {
  if (namespace_name.empty()) return {""};
  if (namespace_name == root) return {root};
  return {namespace_name, root};
}

// A resource type that may not be served (a CRD not installed): nullopt then.
Result<std::optional<kube::ResourceType>> served(kube::KubernetesApi& api, const std::string& group,
                                                 const std::string& plural,
                                                 const std::vector<std::string>& versions) {
  auto type = kube::discover_resource(api, group, plural, versions);
  if (!type) return describe(type.error(), "the API group " + group);
  return *type;
}

// The object `--policy` gave, checked and completed as the API server would store it.
Result<json> policy_as_applied(json policy, const std::string& default_namespace,
                               const std::string& now) {
  if (!policy.is_object()) return Error{"--policy: not a YAML object"};
  const std::string api_version = policy.value("apiVersion", "");
  if (policy.value("kind", "") != "HealthProbePolicy" ||
      api_version != kHealthProbePolicies.group + "/" + kHealthProbePolicies.version) {
    return Error{"--policy: not a HealthProbePolicy of " + kHealthProbePolicies.group + "/" +
                 kHealthProbePolicies.version + " (apiVersion " + quoted_for_message(api_version) +
                 ", kind " + quoted_for_message(policy.value("kind", "")) + ")"};
  }
  json& metadata = policy["metadata"];
  if (!metadata.is_object() || !metadata.contains("name") || !metadata["name"].is_string())
    return Error{"--policy: metadata.name is missing"};
  if (!metadata.contains("namespace")) {
    if (default_namespace.empty())
      return Error{"--policy: metadata.namespace is missing (set it, or give -n NAMESPACE)"};
    metadata["namespace"] = default_namespace;
  }
  // Not applied yet: it would be the newest of its level (ties go to the oldest).
  if (!metadata.contains("creationTimestamp")) metadata["creationTimestamp"] = now;
  if (!metadata.contains("generation")) metadata["generation"] = 1;
  const PolicyState state = project_policy(policy);
  if (!state.policy)
    return Error{"--policy: the API server would accept it, but the controller would not: " +
                 state.problem};
  return policy;
}

std::string action_name(const WorkloadPlan& plan) {
  if (plan.skip) return "skip";
  if (!plan.result || !plan.result->changed) return "none";
  if (plan.decision.rewrite) return "rewrite";
  // Not rewritten, nothing of meshprobe's to restore: the write only holds Istio's rewrite off.
  if (plan.result->held && plan.result->count(probe::ProbeOutcome::kRestored) == 0) return "hold";
  return "restore";
}

}  // namespace

Result<std::vector<WorkloadPreview>> preview(kube::KubernetesApi& api,
                                             const PreviewRequest& request) {
  kube::RealClock clock;
  kube::RealRandom random;
  kube::MetricsRegistry metrics;
  SilentLogger logger;
  const std::string& root = request.options.root_namespace;
  const int agent_port = request.options.agent.port;
  auto informer_of = [&]<typename T>(std::type_identity<T>, const char* name,
                                     const kube::ResourceType& type,
                                     typename kube::Informer<T>::Projection project) {
    return std::make_unique<kube::Informer<T>>(name, api, kube::fixed_resource(type),
                                               std::move(project), kube::ReflectorOptions{}, clock,
                                               random, metrics, logger);
  };

  // The namespaces: one (which must exist) or all.
  auto namespaces =
      informer_of(std::type_identity<NamespaceState>{}, "namespaces", kube::resources::kNamespaces,
                  [](const json&) { return NamespaceState{}; });
  if (!request.namespace_name.empty()) {
    auto found = api.get(kube::resources::kNamespaces, "", request.namespace_name);
    if (!found) {
      if (found.error().is(kube::ApiErrorKind::kNotFound))
        return Error{"namespace " + quoted_for_message(request.namespace_name) + " not found"};
      return describe(found.error(), "namespace " + request.namespace_name);
    }
    namespaces->apply(kube::WatchEventType::kAdded, std::move(*found));
  } else if (auto loaded = load(api, *namespaces, kube::resources::kNamespaces, "", {}); !loaded) {
    return loaded.error();
  }

  // The workloads (Deployments).
  auto deployments = informer_of(
      std::type_identity<DeploymentState>{}, "deployments", kube::resources::kDeployments,
      [agent_port](const json& object) { return project_deployment(object, agent_port); });
  {
    kube::ListOptions options;
    options.label_selector = request.label_selector;
    if (auto loaded =
            load(api, *deployments, kube::resources::kDeployments, request.namespace_name, options);
        !loaded)
      return loaded.error();
  }

  // What decides: policies and PeerAuthentications of those namespaces and the root namespace.
  auto policies = informer_of(std::type_identity<PolicyState>{}, "healthprobepolicies",
                              kHealthProbePolicies, project_policy);
  auto peer_authentications =
      informer_of(std::type_identity<PeerAuthenticationState>{}, "peerauthentications",
                  kube::resources::kConfigMaps, project_peer_authentication);
  auto policy_type = served(api, kHealthProbePolicies.group, kHealthProbePolicies.plural,
                            {kHealthProbePolicies.version});
  if (!policy_type) return policy_type.error();
  auto peer_authentication_type =
      served(api, "security.istio.io", "peerauthentications", {"v1", "v1beta1"});
  if (!peer_authentication_type) return peer_authentication_type.error();
  for (const auto& namespace_name : decision_namespaces(request.namespace_name, root)) {
    if (*policy_type) {
      if (auto loaded = load(api, *policies, **policy_type, namespace_name, {}); !loaded)
        return loaded.error();
    }
    if (*peer_authentication_type) {
      if (auto loaded =
              load(api, *peer_authentications, **peer_authentication_type, namespace_name, {});
          !loaded)
        return loaded.error();
    }
  }
  // AuthorizationPolicies decide under mesh scope too (decision.h): the same namespaces.
  auto authorization_policies =
      informer_of(std::type_identity<AuthorizationPolicyState>{}, "authorizationpolicies",
                  kube::resources::kConfigMaps, project_authorization_policy);
  auto authorization_policy_type =
      served(api, "security.istio.io", "authorizationpolicies", {"v1", "v1beta1"});
  if (!authorization_policy_type) return authorization_policy_type.error();
  if (*authorization_policy_type) {
    for (const auto& namespace_name : decision_namespaces(request.namespace_name, root)) {
      if (auto loaded =
              load(api, *authorization_policies, **authorization_policy_type, namespace_name, {});
          !loaded)
        return loaded.error();
    }
  }
  if (request.policy) {
    auto policy =
        policy_as_applied(*request.policy, request.namespace_name, format_time(clock.system_now()));
    if (!policy) return policy.error();
    policies->apply(kube::WatchEventType::kModified, std::move(*policy));
  }

  // The global toggle.
  auto injector = informer_of(std::type_identity<InjectorState>{}, "injector-configmap",
                              kube::resources::kConfigMaps, project_injector);
  json injector_object;
  auto found = api.get(kube::resources::kConfigMaps, root, kInjectorConfigMapName);
  if (found) {
    injector_object = std::move(*found);
  } else if (!found.error().is(kube::ApiErrorKind::kNotFound)) {
    return describe(found.error(), std::string("ConfigMap ") + root + "/" + kInjectorConfigMapName);
  }
  if (request.toggle) {
    std::optional<std::string> values;
    if (injector_object.is_object()) values = project_injector(injector_object).values;
    auto planned = plan_injector_values(values, request.toggle, *request.toggle);
    if (!planned.problem.empty()) return Error{"--toggle: " + planned.problem};
    if (!injector_object.is_object()) {
      injector_object = {{"apiVersion", "v1"},
                         {"kind", "ConfigMap"},
                         {"metadata", {{"namespace", root}, {"name", kInjectorConfigMapName}}}};
    }
    if (planned.values) injector_object["data"][kInjectorValuesKey] = *planned.values;
  }
  if (injector_object.is_object())
    injector->apply(kube::WatchEventType::kAdded, std::move(injector_object));

  // The injector ConfigMaps of Istio revisions, read only when a namespace or a workload in
  // scope names a revision (istio.io/rev): they live in the root namespace, so reading them
  // takes the Role meshprobe-preview-revisions there (config/preview), which nobody without
  // revisions needs.
  auto revision_injectors =
      informer_of(std::type_identity<RevisionInjectorState>{}, "revision-injector-configmaps",
                  kube::resources::kConfigMaps, project_revision_injector);
  bool revisions_in_use = false;
  for (const auto& entry : namespaces->list()) {
    for (const auto& [key, value] : entry->metadata.labels)
      if (key == probe::kIstioRevisionLabel) revisions_in_use = true;
  }
  for (const auto& entry : deployments->list()) {
    const json pod_template = entry->value.pod_template.decode();
    const json* template_metadata = probe::find_member(pod_template, "metadata");
    const json* labels =
        template_metadata ? probe::find_member(*template_metadata, "labels") : nullptr;
    if (labels && labels->is_object() && labels->contains(probe::kIstioRevisionLabel))
      revisions_in_use = true;
  }
  if (revisions_in_use) {
    kube::ListOptions options;
    options.label_selector = std::string(probe::kIstioRevisionLabel);
    auto listed = kube::list_all_pages(
        api, kube::resources::kConfigMaps, root, std::move(options), kPageSize, [&](json item) {
          revision_injectors->apply(kube::WatchEventType::kAdded, std::move(item));
        });
    if (!listed) {
      if (listed.error().is(kube::ApiErrorKind::kForbidden)) {
        return Error{"forbidden to list the Istio revisions' injector ConfigMaps in namespace " +
                     root + " (" + listed.error().detail +
                     "); a namespace or workload in scope names a revision (istio.io/rev), and "
                     "reading its toggle needs the Role meshprobe-preview-revisions in " +
                     root + " (config/preview)"};
      }
      return describe(listed.error(), "configmaps in namespace " + root);
    }
  }

  const ClusterCache cache{*deployments,       *namespaces, *peer_authentications,
                           *policies,          *injector,   *authorization_policies,
                           *revision_injectors};
  std::vector<WorkloadPreview> out;
  for (const auto& entry : deployments->list()) {
    const auto& metadata = entry->metadata;
    const WorkloadPlan plan = plan_workload(cache, request.options, metadata, entry->value);
    WorkloadPreview workload{"Deployment", metadata.namespace_name, metadata.name,
                             action_name(plan)};
    workload.reason = std::string(probe::condition_reason_name(plan.condition.reason));
    workload.message = plan.skip ? *plan.skip : plan.condition.message;
    workload.notes = plan.decision.notes;
    if (plan.result) {
      workload.notes.insert(workload.notes.end(), plan.result->notes.begin(),
                            plan.result->notes.end());
      for (const auto& report : plan.result->probes) {
        ProbePreview probe{report.container, report.init_container,
                           std::string(probe::slot_name(report.slot)),
                           std::string(probe::outcome_name(report.outcome)), report.before};
        if (report.outcome == probe::ProbeOutcome::kRewritten ||
            report.outcome == probe::ProbeOutcome::kRestored)
          probe.after = report.after;
        probe.reason = report.reason;
        workload.probes.push_back(std::move(probe));
      }
    }
    out.push_back(std::move(workload));
  }
  std::sort(out.begin(), out.end(), [](const WorkloadPreview& left, const WorkloadPreview& right) {
    return std::tie(left.namespace_name, left.kind, left.name) <
           std::tie(right.namespace_name, right.kind, right.name);
  });
  return out;
}

json to_json(const WorkloadPreview& workload) {
  json probes = json::array();
  for (const auto& probe : workload.probes) {
    json entry = {{"container", probe.container},
                  {"probe", probe.probe},
                  {"outcome", probe.outcome},
                  {"before", probe.before}};
    if (probe.init_container) entry["initContainer"] = true;
    if (!probe.after.empty()) entry["after"] = probe.after;
    if (!probe.reason.empty()) entry["reason"] = probe.reason;
    probes.push_back(std::move(entry));
  }
  return {{"kind", workload.kind},     {"namespace", workload.namespace_name},
          {"name", workload.name},     {"action", workload.action},
          {"reason", workload.reason}, {"message", workload.message},
          {"notes", workload.notes},   {"probes", std::move(probes)}};
}

}  // namespace meshprobe::controller
