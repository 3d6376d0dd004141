#include "probe/mesh.h"

#include <array>

#include "probe/app_probers.h"
#include "probe/names.h"
#include "probe/object_fields.h"
#include "probe/port_list.h"

namespace meshprobe::probe {
namespace {

using nlohmann::json;

const json& object_or_empty(const json& value) {
  static const json empty = json::object();
  return value.is_object() ? value : empty;
}

const json& member_or_empty(const json& object, std::string_view key) {
  const json* value = find_member(object, key);
  return value != nullptr ? object_or_empty(*value) : object_or_empty(json());
}

std::optional<std::string> label(const Labels& labels, std::string_view key) {
  auto it = labels.find(std::string(key));
  return it != labels.end() ? std::optional<std::string>(it->second) : std::nullopt;
}

std::string revision_name(const std::string& value) { return value == "default" ? "" : value; }

struct Injection {
  bool injects = false;
  std::string revision;
  std::string reason;
};

// Which of the webhooks of Istio's chart (mutatingwebhook.yaml) selects the pod: the namespace
// label istio-injection wins over istio.io/rev, which wins over the pod's own labels.
Injection webhook_selection(const Labels& namespace_labels, const Labels& pod_labels) {
  const std::string injection_key(kIstioInjectionLabel);
  const std::string revision_key(kIstioRevisionLabel);
  const std::string inject_key(kSidecarInjectLabel);
  const auto pod_inject = label(pod_labels, kSidecarInjectLabel);
  const std::string opted_out = "pod template label " + inject_key + "=false";
  if (auto value = label(namespace_labels, kIstioInjectionLabel)) {
    const std::string why = "namespace label " + injection_key + "=" + *value;
    if (*value != "enabled") return {false, "", why};
    if (pod_inject == "false") return {false, "", opted_out};
    return {true, "", why};
  }
  if (auto value = label(namespace_labels, kIstioRevisionLabel)) {
    if (pod_inject == "false") return {false, "", opted_out};
    return {true, revision_name(*value), "namespace label " + revision_key + "=" + *value};
  }
  if (auto value = label(pod_labels, kIstioRevisionLabel)) {
    if (pod_inject == "false") return {false, "", opted_out};
    return {true, revision_name(*value), "pod template label " + revision_key + "=" + *value};
  }
  if (pod_inject == "true") return {true, "", "pod template label " + inject_key + "=true"};
  return {false, "",
          "neither the namespace (" + injection_key + "=enabled, " + revision_key +
              ") nor the pod template (" + inject_key + "=true, " + revision_key +
              ") asks for Istio's sidecar"};
}

// Istio's injectRequired() on a pod its webhook was called for.
Injection injection_of(const Labels& namespace_labels, std::string_view namespace_name,
                       const json& metadata, const json& spec) {
  if (const json* host_network = find_member(spec, "hostNetwork");
      host_network != nullptr && host_network->is_boolean() && host_network->get<bool>()) {
    return {false, "", "hostNetwork pods never get Istio's sidecar"};
  }
  if (injector_ignores_namespace(namespace_name)) {
    return {false, "", "Istio's injector never injects namespace " + std::string(namespace_name)};
  }
  const Labels pod_labels = labels_of(metadata);
  Injection selected = webhook_selection(namespace_labels, pod_labels);
  if (!selected.injects) return selected;
  // The label wins over the legacy annotation; only "true" and "false" count.
  auto value = label(pod_labels, kSidecarInjectLabel);
  const bool from_label = value.has_value();
  if (!value) value = annotation(metadata, kSidecarInjectLabel);
  if (value == "false") {
    return {false, "",
            std::string("pod template ") + (from_label ? "label " : "annotation ") +
                std::string(kSidecarInjectLabel) + "=false"};
  }
  return selected;
}

}  // namespace

bool selects_proxyless_grpc(const json& metadata) {
  auto templates = annotation(metadata, kInjectTemplatesAnnotation);
  if (!templates) return false;
  std::string_view rest = *templates;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    if (trim(rest.substr(0, comma)) == kProxylessGrpcTemplate) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

bool injector_ignores_namespace(std::string_view namespace_name) {
  constexpr std::array<std::string_view, 4> kIgnored{"kube-system", "kube-public",
                                                     "kube-node-lease", "local-path-storage"};
  for (auto ignored : kIgnored) {
    if (namespace_name == ignored) return true;
  }
  return false;
}

bool is_istio_container(std::string_view name) {
  return name == kIstioProxyContainerName || name == kIstioInitContainerName ||
         name == kIstioValidationContainerName;
}

IstioSidecar istio_sidecar_of(const json& pod_template) {
  return istio_sidecar_of(member_or_empty(pod_template, "metadata"),
                          member_or_empty(pod_template, "spec"));
}

IstioSidecar istio_sidecar_of(const json& metadata, const json& spec) {
  IstioSidecar sidecar;
  const json* proxy = nullptr;
  for (const char* list : {"initContainers", "containers"}) {
    const json* containers = find_member(spec, list);
    if (containers == nullptr || !containers->is_array()) continue;
    for (const auto& container : *containers) {
      if (string_member(container, "name") == kIstioProxyContainerName) proxy = &container;
    }
  }
  if (proxy == nullptr) return sidecar;
  sidecar.present = true;
  sidecar.status_port = kIstioDefaultStatusPort;
  if (auto port = annotation(metadata, kStatusPortAnnotation)) {
    try {
      sidecar.status_port = std::stoi(*port);
    } catch (const std::exception&) {  // Istio logs it and uses 0; no probe is on port 0
      sidecar.status_port = 0;
    }
  }
  if (const json* env = find_member(*proxy, "env"); env != nullptr && env->is_array()) {
    for (const auto& variable : *env) {
      if (string_member(variable, "name") != kAppProbersEnvName) continue;
      const json parsed = json::parse(string_member(variable, "value").value_or(""), nullptr,
                                      /*allow_exceptions=*/false);
      if (!parsed.is_object()) continue;
      for (const auto& [path, _] : parsed.items()) sidecar.app_prober_paths.insert(path);
    }
  }
  if (auto status = annotation(metadata, kSidecarStatusAnnotation)) {
    const json parsed = json::parse(*status, nullptr, /*allow_exceptions=*/false);
    if (auto revision = string_member(parsed, "revision")) {
      sidecar.revision = revision_name(*revision);
    }
  }
  return sidecar;
}

MeshScope mesh_scope(const Labels& namespace_labels, std::string_view namespace_name,
                     const json& template_metadata, const json& pod_spec) {
  const json& metadata = object_or_empty(template_metadata);
  const json& spec = object_or_empty(pod_spec);
  const bool proxyless = selects_proxyless_grpc(metadata);
  const DataPlane injected_plane = proxyless ? DataPlane::kProxylessGrpc : DataPlane::kSidecar;
  const std::string proxyless_reason = "; pod template annotation " +
                                       std::string(kInjectTemplatesAnnotation) +
                                       " selects Istio's proxyless gRPC template";
  MeshScope scope;
  if (const IstioSidecar sidecar = istio_sidecar_of(metadata, spec); sidecar.present) {
    scope.data_plane = injected_plane;
    scope.sidecar_in_template = true;
    scope.revision = sidecar.revision;
    scope.reason = "the pod template already holds Istio's " +
                   std::string(kIstioProxyContainerName) + " (istioctl kube-inject)" +
                   (proxyless ? proxyless_reason : "");
    return scope;
  }
  const Injection injection = injection_of(namespace_labels, namespace_name, metadata, spec);
  scope.reason = injection.reason;
  if (injection.injects) {
    scope.data_plane = injected_plane;
    scope.injector_injects = true;
    scope.revision = injection.revision;
    if (proxyless) scope.reason += proxyless_reason;
    return scope;
  }
  // Ambient: no sidecar (checked above), not hostNetwork, the pod's "none" opts out.
  const Labels pod_labels = labels_of(metadata);
  const std::string mode_key(kDataplaneModeLabel);
  const json* host_network = find_member(spec, "hostNetwork");
  if (host_network != nullptr && host_network->is_boolean() && host_network->get<bool>())
    return scope;
  const auto pod_mode = label(pod_labels, kDataplaneModeLabel);
  if (pod_mode == kDataplaneModeNone) {
    scope.reason += "; pod template label " + mode_key + "=none";
    return scope;
  }
  if (pod_mode == kDataplaneModeAmbient) {
    scope.data_plane = DataPlane::kAmbient;
    scope.reason = "pod template label " + mode_key + "=ambient";
  } else if (label(namespace_labels, kDataplaneModeLabel) == kDataplaneModeAmbient) {
    scope.data_plane = DataPlane::kAmbient;
    scope.reason = "namespace label " + mode_key + "=ambient";
  }
  return scope;
}

MeshMembership membership_of(const MeshScope& scope) {
  return {scope.data_plane == DataPlane::kSidecar, scope.reason};
}

bool inbound_port_captured(const json& template_metadata, int port) {
  auto include = annotation(template_metadata, kIncludeInboundPortsAnnotation);
  if (include && trim(*include) != "*" && !port_list_contains(*include, port)) return false;
  auto exclude = annotation(template_metadata, kExcludeInboundPortsAnnotation);
  return !(exclude && port_list_contains(*exclude, port));
}

}  // namespace meshprobe::probe
