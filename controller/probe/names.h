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

// Istio's containers: never touched by rewrite() or restore().
inline constexpr std::string_view kIstioProxyContainerName = "istio-proxy";
inline constexpr std::string_view kIstioInitContainerName = "istio-init";
inline constexpr std::string_view kIstioValidationContainerName = "istio-validation";
// What Istio's injector writes on a pod it injected, and the status port it rewrites probes to.
inline constexpr std::string_view kSidecarStatusAnnotation = "sidecar.istio.io/status";
inline constexpr std::string_view kStatusPortAnnotation = "status.sidecar.istio.io/port";
inline constexpr int kIstioDefaultStatusPort = 15020;
// Istio's injection templates (proxyless gRPC: "grpc-agent") and data-plane mode labels.
inline constexpr std::string_view kInjectTemplatesAnnotation = "inject.istio.io/templates";
inline constexpr std::string_view kProxylessGrpcTemplate = "grpc-agent";
inline constexpr std::string_view kDataplaneModeLabel = "istio.io/dataplane-mode";
inline constexpr std::string_view kDataplaneModeAmbient = "ambient";
inline constexpr std::string_view kDataplaneModeNone = "none";

// meshprobe's record of Istio's per-pod probe-rewrite switch (kRewriteAppProbersAnnotation)
// when meshprobe set it to "false" (istio_hold.h): {"before": "<the user's value>"}, or {} when
// the user had none.
inline constexpr std::string_view kIstioRewriteHoldAnnotation = "meshprobe.io/istio-rewrite-hold";

// Istio's root namespace when none is configured: mesh-wide policies live there.
inline constexpr std::string_view kDefaultRootNamespace = "istio-system";

}  // namespace meshprobe::probe
