// Where a workload's pods stand in Istio's data plane, as Istio decides it, and the facts about
// a pod template that Istio's injector already rendered (istioctl kube-inject output):
//   - mesh_scope(): sidecar (the template holds istio-proxy, or Istio's injector injects it at
//     admission by its webhook selectors and injectRequired()), proxyless gRPC (the
//     grpc-agent injection template), ambient (istio.io/dataplane-mode=ambient on the
//     namespace or the pod, no sidecar, not "none"), or none;
//   - inbound_port_captured(): whether the sidecar intercepts inbound traffic to a port;
//   - istio_sidecar_of(): Istio's status port and the probes Istio already rewrote.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>

#include "probe/label_selector.h"

namespace meshprobe::probe {

enum class DataPlane { kNone, kSidecar, kProxylessGrpc, kAmbient };

struct MeshScope {
  DataPlane data_plane = DataPlane::kNone;
  // The template already holds istio-proxy (istioctl kube-inject output): Istio's webhook
  // leaves such pods alone.
  bool sidecar_in_template = false;
  // Istio's injector webhook injects the pods at admission (and so may rewrite their probes).
  bool injector_injects = false;
  // The injecting revision ("" for the default one; "default" is written as "").
  std::string revision;
  // Why, for messages: "namespace label istio-injection=enabled".
  std::string reason;
  bool operator==(const MeshScope&) const = default;
};

// Namespaces Istio's injector never injects (its IgnoredNamespaces).
bool injector_ignores_namespace(std::string_view namespace_name);

// The pod template's metadata and spec (either may be null JSON).
MeshScope mesh_scope(const Labels& namespace_labels, std::string_view namespace_name,
                     const nlohmann::json& template_metadata, const nlohmann::json& pod_spec);

// Mode WhenRequired's view of the mesh: TCP probes break when the pods carry the sidecar.
struct MeshMembership {
  bool in_mesh = false;
  std::string reason;  // for messages: "namespace label istio-injection=enabled"
  bool operator==(const MeshMembership&) const = default;
};
MeshMembership membership_of(const MeshScope& scope);

// Whether the sidecar intercepts inbound connections to `port`, from the template's
// annotations traffic.sidecar.istio.io/includeInboundPorts (default "*": all) and
// excludeInboundPorts (comma-separated port lists).
bool inbound_port_captured(const nlohmann::json& template_metadata, int port);

// An istio-proxy the template already holds (istioctl kube-inject output).
struct IstioSidecar {
  bool present = false;
  int status_port = 0;  // status.sidecar.istio.io/port, else 15020
  // The paths in istio-proxy's ISTIO_KUBE_APP_PROBERS: the probes Istio rewrote.
  std::set<std::string> app_prober_paths;
  std::string revision;  // from sidecar.istio.io/status ("" for the default revision)
};
IstioSidecar istio_sidecar_of(const nlohmann::json& template_metadata,
                              const nlohmann::json& pod_spec);
IstioSidecar istio_sidecar_of(const nlohmann::json& pod_template);  // {metadata, spec}

// Whether the template's inject.istio.io/templates lists Istio's proxyless gRPC template.
bool selects_proxyless_grpc(const nlohmann::json& template_metadata);

// istio-proxy, istio-init, istio-validation.
bool is_istio_container(std::string_view name);

}  // namespace meshprobe::probe
