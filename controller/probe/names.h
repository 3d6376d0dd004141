// Names and defaults that the engine, the agent and the controller share: each is defined
// here and nowhere else.
#pragma once

#include <string_view>

namespace meshprobe::probe {

// The agent's port when none is configured: outside Istio's reserved range 15000-15099, and
// away from the ports applications commonly use. The agent binary uses the same constant.
inline constexpr int kDefaultAgentPort = 15120;

// The agent container that rewrite() adds (a native sidecar: the first init container, with
// restartPolicy Always) and the name of its port.
inline constexpr std::string_view kAgentContainerName = "meshprobe-agent";
inline constexpr std::string_view kAgentPortName = "mp-health";
// Istio's proxy user: its outbound connections are not redirected by the mesh, so the agent
// reaches the application directly.
inline constexpr int kAgentUserId = 1337;

// The agent's environment (read by the agent at start).
inline constexpr std::string_view kAppProbersEnvName = "ISTIO_KUBE_APP_PROBERS";
inline constexpr std::string_view kPodIpEnvName = "POD_IP";

// Pod template annotations.
inline constexpr std::string_view kOriginalProbesAnnotation = "meshprobe.io/original-probes";
inline constexpr std::string_view kRewriteAppProbersAnnotation =
    "sidecar.istio.io/rewriteAppHTTPProbers";
inline constexpr std::string_view kExcludeInboundPortsAnnotation =
    "traffic.sidecar.istio.io/excludeInboundPorts";
inline constexpr std::string_view kIncludeInboundPortsAnnotation =
    "traffic.sidecar.istio.io/includeInboundPorts";

// Mesh membership: namespace labels and the pod template's label (or legacy annotation).
inline constexpr std::string_view kIstioInjectionLabel = "istio-injection";
inline constexpr std::string_view kIstioRevisionLabel = "istio.io/rev";
inline constexpr std::string_view kSidecarInjectLabel = "sidecar.istio.io/inject";

// Istio's root namespace when none is configured: mesh-wide policies live there.
inline constexpr std::string_view kDefaultRootNamespace = "istio-system";

}  // namespace meshprobe::probe
