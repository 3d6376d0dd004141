// Whether a workload is in the mesh (gets Istio's sidecar), and whether the sidecar captures
// inbound traffic to a port: the two facts that decide whether a probe breaks without a
// rewrite (mode WhenRequired).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "probe/label_selector.h"

namespace meshprobe::probe {

struct MeshMembership {
  bool in_mesh = false;
  std::string reason;  // for messages: "namespace label istio-injection=enabled"
  bool operator==(const MeshMembership&) const = default;
};

// As Istio's injector decides, in this order: the template's label sidecar.istio.io/inject
// (else its legacy annotation of that name) "true" or "false"; else the namespace label
// istio-injection ("enabled" is in, any other value is out); else the namespace label
// istio.io/rev being present.
MeshMembership mesh_membership(const Labels& namespace_labels,
                               const nlohmann::json& template_metadata);

// Whether the sidecar intercepts inbound connections to `port`, from the template's
// annotations traffic.sidecar.istio.io/includeInboundPorts (default "*": all) and
// excludeInboundPorts (comma-separated port lists).
bool inbound_port_captured(const nlohmann::json& template_metadata, int port);

}  // namespace meshprobe::probe
