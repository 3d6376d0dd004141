#include "operator/cluster_state.h"

#include "operator/conditions.h"
#include "operator/injector_toggle.h"
#include "operator/workload_kinds.h"
#include "probe/condition.h"
#include "probe/names.h"
#include "probe/object_fields.h"
#include "probe/rewrite.h"

namespace meshprobe::controller {
namespace {

using nlohmann::json;

constexpr std::string_view kProbeFieldKeys[] = {"f:livenessProbe", "f:readinessProbe",
                                                "f:startupProbe", "f:lifecycle"};

// Whether a FieldsV1 set of containers ({"k:{\"name\":\"web\"}": {...}}) owns a probe field.
bool owns_probe_of_containers(const json* containers) {
  if (!containers || !containers->is_object()) return false;
  for (const auto& [key, container] : containers->items()) {
    if (!container.is_object()) continue;
    for (auto probe_key : kProbeFieldKeys) {
      if (container.contains(probe_key)) return true;
    }
  }
  return false;
}

}  // namespace

std::vector<ManagerSummary> summarize_managed_fields(
    const json& managed_fields, const std::vector<std::string>& template_path) {
  std::vector<ManagerSummary> out;
  if (!managed_fields.is_array()) return out;
  for (const auto& entry : managed_fields) {
    const std::string manager = probe::string_member(entry, "manager").value_or("");
    if (manager == kFieldManager ||
        !probe::string_member(entry, "subresource").value_or("").empty())
      continue;
    ManagerSummary summary{manager, probe::string_member(entry, "time").value_or("")};
    const json* pod_template = probe::find_member(entry, "fieldsV1");
    for (const auto& step : template_path) {
      if (!pod_template) break;
      pod_template = probe::find_member(*pod_template, "f:" + step);
    }
    if (!pod_template) continue;  // owns nothing meshprobe writes
    summary.owns_template_fields = true;
    if (const json* pod_spec = probe::find_member(*pod_template, "f:spec")) {
      summary.owns_probe_fields =
          owns_probe_of_containers(probe::find_member(*pod_spec, "f:containers")) ||
          owns_probe_of_containers(probe::find_member(*pod_spec, "f:initContainers"));
    }
    out.push_back(std::move(summary));
  }
  return out;
}

json WorkloadState::workload_metadata() const {
  json metadata = json::object();
  if (workload_rewrite_annotation) {
    metadata["annotations"][std::string(probe::kRewriteAppProbersAnnotation)] =
        *workload_rewrite_annotation;
  }
  return metadata;
}

namespace {

// "Kind/name" of the controller ownerReference, or "".
std::string controller_owner_of(const json& metadata) {
  const json* owners = probe::find_member(metadata, "ownerReferences");
  if (!owners || !owners->is_array()) return "";
  for (const auto& owner : *owners) {
    const json* controller = probe::find_member(owner, "controller");
    if (controller && controller->is_boolean() && controller->get<bool>()) {
      return probe::string_member(owner, "kind").value_or("") + "/" +
             probe::string_member(owner, "name").value_or("");
    }
  }
  return "";
}

// The condition a kind without status conditions keeps in annotations, as a condition entry.
json condition_from_annotations(const json& metadata) {
  auto status = probe::annotation(metadata, kStateStatusAnnotation);
  if (!status) return nullptr;
  return {
      {"type", probe::kConditionType},
      {"status", *status},
      {"reason", probe::annotation(metadata, kStateReasonAnnotation).value_or("")},
      {"message", probe::annotation(metadata, kStateMessageAnnotation).value_or("")},
      {"lastTransitionTime", probe::annotation(metadata, kStateTransitionAnnotation).value_or("")}};
}

}  // namespace

WorkloadState project_workload(const json& object, const WorkloadKind& kind, int agent_port) {
  WorkloadState state;
  static const json kEmpty = json::object();
  const json* metadata = probe::find_member(object, "metadata");
  if (metadata) {
    state.uid = probe::string_member(*metadata, "uid").value_or("");
    if (const json* generation = probe::find_member(*metadata, "generation");
        generation && generation->is_number_integer()) {
      state.generation = generation->get<long long>();
    }
    state.workload_rewrite_annotation =
        probe::annotation(*metadata, probe::kRewriteAppProbersAnnotation);
    if (const json* managed = probe::find_member(*metadata, "managedFields")) {
      state.managers = summarize_managed_fields(*managed, kind.template_path);
    }
    state.controller_owner = controller_owner_of(*metadata);
  }
  const json* pod_template = find_pod_template(object, kind);
  state.has_template = pod_template != nullptr && pod_template->is_object();
  const json& template_object = state.has_template ? *pod_template : kEmpty;
  if (const json* template_metadata = probe::find_member(template_object, "metadata")) {
    state.template_labels = probe::labels_of(*template_metadata);
  }
  state.pod_template = kube::CompactObject::encode(template_object, &workload_dictionary());
  state.rewritten = probe::is_rewritten(template_object, agent_port);
  if (kind.has_update_strategy) {
    const json* spec = probe::find_member(object, "spec");
    const json* strategy = spec ? probe::find_member(*spec, "updateStrategy") : nullptr;
    state.update_on_delete =
        strategy && probe::string_member(*strategy, "type").value_or("") == "OnDelete";
  }
  if (kind.read_progress) {
    const RolloutProgress progress = kind.read_progress(object);
    state.rollout_finished = progress.finished;
    state.rollout_waits_for_unready_pods = progress.waits_for_unready_pods;
  }
  if (kind.status == StatusStyle::kAnnotations) {
    if (metadata) {
      const json condition = condition_from_annotations(*metadata);
      if (!condition.is_null()) {
        state.condition = kube::CompactObject::encode(condition, &workload_dictionary());
      }
    }
    return state;
  }
  if (const json* status = probe::find_member(object, "status"); status && status->is_object()) {
    state.has_status = true;
    if (const json* conditions = probe::find_member(*status, "conditions");
        conditions && conditions->is_array()) {
      state.has_conditions = true;
      for (std::size_t i = 0; i < conditions->size(); ++i) {
        const json& entry = (*conditions)[i];
        if (entry.is_object() && entry.value("type", "") == probe::kConditionType) {
          state.condition = kube::CompactObject::encode(entry, &workload_dictionary());
          state.condition_index = static_cast<int>(i);
          break;
        }
      }
    }
  }
  return state;
}

const kube::CompressionDictionary& workload_dictionary() {
  // A made-up application (not any test's), rewritten by the engine, with the fields the API
  // server defaults; the template goes last, where the compressor reaches it most cheaply.
  static const kube::CompressionDictionary dictionary = [] {
    const json probe_defaults = {{"failureThreshold", 3},
                                 {"periodSeconds", 10},
                                 {"successThreshold", 1},
                                 {"timeoutSeconds", 1}};
    json liveness = {{"httpGet", {{"path", "/healthz"}, {"port", "http"}, {"scheme", "HTTP"}}}};
    json readiness = {{"tcpSocket", {{"port", 8080}}}};
    liveness.update(probe_defaults);
    readiness.update(probe_defaults);
    const json original = {
        {"metadata", {{"labels", {{"app", "web"}}}}},
        {"spec",
         {{"containers",
           {{{"name", "web"},
             {"image", "example.com/web:1.0"},
             {"imagePullPolicy", "IfNotPresent"},
             {"ports", {{{"containerPort", 8080}, {"name", "http"}, {"protocol", "TCP"}}}},
             {"livenessProbe", liveness},
             {"readinessProbe", readiness},
             {"resources", json::object()},
             {"terminationMessagePath", "/dev/termination-log"},
             {"terminationMessagePolicy", "File"}}}},
          {"dnsPolicy", "ClusterFirst"},
          {"restartPolicy", "Always"},
          {"schedulerName", "default-scheduler"},
          {"securityContext", json::object()},
          {"terminationGracePeriodSeconds", 30}}}};
    const auto rewritten =
        probe::rewrite(original, probe::AgentConfig{"meshprobe-agent", probe::kDefaultAgentPort});
    const json pod_template = rewritten ? rewritten->pod_template : original;
    const json condition = {
        {"type", probe::kConditionType},
        {"status", "True"},
        {"reason", probe::condition_reason_name(probe::ConditionReason::kRewritten)},
        {"message", rewritten ? probe::summarize(probe::Decision{}, *rewritten).message : ""},
        {"lastTransitionTime", "2026-01-01T00:00:00Z"},
        {"lastUpdateTime", "2026-01-01T00:00:00Z"}};
    std::string bytes;
    for (const json& part : {condition, pod_template}) {
      const auto packed = json::to_msgpack(part);
      bytes.append(packed.begin(), packed.end());
    }
    return kube::CompressionDictionary(std::move(bytes));
  }();
  return dictionary;
}

PeerAuthenticationState project_peer_authentication(const json& object) {
  auto parsed = probe::parse_peer_authentication(object);
  if (!parsed) return {std::nullopt, parsed.error().message};
  return {std::move(parsed).value(), ""};
}

PolicyState project_policy(const json& object) {
  PolicyState state;
  if (const json* metadata = probe::find_member(object, "metadata")) {
    if (const json* generation = probe::find_member(*metadata, "generation");
        generation && generation->is_number_integer()) {
      state.generation = generation->get<long long>();
    }
  }
  auto parsed = probe::parse_health_probe_policy(object);
  if (parsed) {
    state.policy = std::move(parsed).value();
  } else {
    state.problem = parsed.error().message;
  }
  if (const json* status = probe::find_member(object, "status")) state.status = *status;
  return state;
}

InjectorState project_injector(const json& object) {
  const json* data = probe::find_member(object, "data");
  return {data != nullptr && data->is_object(),
          data ? probe::string_member(*data, kInjectorValuesKey) : std::nullopt};
}

AuthorizationPolicyState project_authorization_policy(const json& object) {
  auto parsed = probe::parse_authorization_policy(object);
  if (!parsed) return {std::nullopt, parsed.error().message};
  return {std::move(parsed).value(), ""};
}

RevisionInjectorState project_revision_injector(const json& object) {
  RevisionInjectorState state;
  const std::string prefix = std::string(kInjectorConfigMapName) + "-";
  const json* metadata = probe::find_member(object, "metadata");
  const std::string name =
      metadata ? probe::string_member(*metadata, "name").value_or("") : std::string();
  if (!name.starts_with(prefix) || name.size() == prefix.size()) return state;
  state.revision = name.substr(prefix.size());
  if (const json* data = probe::find_member(object, "data"))
    state.values = probe::string_member(*data, kInjectorValuesKey);
  return state;
}

std::vector<probe::HealthProbePolicy> ClusterCache::policies_for(
    const std::string& namespace_name, const std::string& root_namespace) const {
  std::vector<probe::HealthProbePolicy> out;
  auto collect = [&](const std::string& name) {
    for (const auto& entry : policies.list_namespace(name)) {
      if (entry->value.policy) out.push_back(*entry->value.policy);
    }
  };
  collect(namespace_name);
  if (root_namespace != namespace_name) collect(root_namespace);
  return out;
}

std::vector<probe::PeerAuthentication> ClusterCache::peer_authentications_for(
    const std::string& namespace_name, const std::string& root_namespace) const {
  std::vector<probe::PeerAuthentication> out;
  auto collect = [&](const std::string& name) {
    for (const auto& entry : peer_authentications.list_namespace(name)) {
      if (entry->value.peer_authentication) out.push_back(*entry->value.peer_authentication);
    }
  };
  collect(namespace_name);
  if (root_namespace != namespace_name) collect(root_namespace);
  return out;
}

std::vector<probe::AuthorizationPolicy> ClusterCache::authorization_policies_for(
    const std::string& namespace_name, const std::string& root_namespace) const {
  std::vector<probe::AuthorizationPolicy> out;
  auto collect = [&](const std::string& name) {
    for (const auto& entry : authorization_policies.list_namespace(name)) {
      if (entry->value.authorization_policy) out.push_back(*entry->value.authorization_policy);
    }
  };
  collect(namespace_name);
  if (root_namespace != namespace_name) collect(root_namespace);
  return out;
}

std::map<std::string, bool, std::less<>> ClusterCache::revision_toggles() const {
  std::map<std::string, bool, std::less<>> out;
  for (const auto& entry : revision_injectors.list()) {
    if (entry->value.revision.empty()) continue;
    if (auto toggle = read_injector_toggle(entry->value.values).rewrite)
      out[entry->value.revision] = *toggle;
  }
  return out;
}

std::vector<WorkloadCaches::Entry> ClusterCache::workloads_of_revision(
    const std::string& revision) const {
  const std::string key(probe::kIstioRevisionLabel);
  std::vector<WorkloadCaches::Entry> out;
  for (auto& entry : workloads.list()) {
    const auto& labels = entry.object->value.template_labels;
    auto label = labels.find(key);
    const auto namespace_labels = this->namespace_labels(entry.object->metadata.namespace_name);
    auto namespace_label = namespace_labels.find(key);
    if ((label != labels.end() && label->second == revision) ||
        (namespace_label != namespace_labels.end() && namespace_label->second == revision))
      out.push_back(std::move(entry));
  }
  return out;
}

probe::Labels ClusterCache::namespace_labels(const std::string& namespace_name) const {
  auto entry = namespaces.get(namespace_name);
  if (!entry) return {};
  return probe::Labels(entry->metadata.labels.begin(), entry->metadata.labels.end());
}

WorkloadInformer& WorkloadCaches::of(const WorkloadKind& kind) const {
  return *informers.at(kind_index(kind));
}

std::vector<WorkloadCaches::Entry> WorkloadCaches::list() const {
  std::vector<Entry> out;
  for (const auto& kind : workload_kinds()) {
    for (auto& object : of(kind).list()) out.push_back({&kind, std::move(object)});
  }
  return out;
}

std::vector<WorkloadCaches::Entry> WorkloadCaches::list_namespace(
    const std::string& namespace_name) const {
  std::vector<Entry> out;
  for (const auto& kind : workload_kinds()) {
    for (auto& object : of(kind).list_namespace(namespace_name)) {
      out.push_back({&kind, std::move(object)});
    }
  }
  return out;
}

std::size_t WorkloadCaches::size() const {
  std::size_t total = 0;
  for (const auto* informer : informers) total += informer->size();
  return total;
}

std::optional<std::string> ClusterCache::injector_values() const {
  auto entries = injector.list();
  for (const auto& entry : entries) {
    if (entry->metadata.name == kInjectorConfigMapName) return entry->value.values;
  }
  return std::nullopt;
}

}  // namespace meshprobe::controller
