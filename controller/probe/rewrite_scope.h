// Which probes a rewrite covers: the decision (decision.h) produces a RewriteScope, rewrite()
// asks it about each rewritable probe. Everything is in scope unless a HealthProbePolicy
// narrows it by probe family and protocol, or asks for mode WhenRequired.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "probe/app_probers.h"
#include "probe/authorization_policy.h"
#include "probe/mesh.h"
#include "probe/peer_authentication.h"

namespace meshprobe::probe {

// HealthProbePolicy.spec.probes: liveness, readiness, startup, lifecycle (both hooks).
enum class ProbeFamily { kLiveness, kReadiness, kStartup, kLifecycle };
// HealthProbePolicy.spec.protocols: HTTP (httpGet), TCP (tcpSocket), GRPC (grpc).
enum class ProbeProtocol { kHttp, kTcp, kGrpc };

ProbeFamily family_of(ProbeSlot slot);
std::string_view family_name(ProbeFamily family);        // "liveness", ..., "lifecycle"
std::string_view protocol_name(ProbeProtocol protocol);  // "HTTP", "TCP", "GRPC"
std::optional<ProbeFamily> parse_probe_family(std::string_view name);
std::optional<ProbeProtocol> parse_probe_protocol(std::string_view name);

inline const std::set<ProbeFamily> kAllProbeFamilies = {
    ProbeFamily::kLiveness, ProbeFamily::kReadiness, ProbeFamily::kStartup,
    ProbeFamily::kLifecycle};
inline const std::set<ProbeProtocol> kAllProbeProtocols = {
    ProbeProtocol::kHttp, ProbeProtocol::kTcp, ProbeProtocol::kGrpc};

// What rewrite() knows about one rewritable probe when it asks the scope.
struct ProbeCandidate {
  std::string_view container;
  ProbeSlot slot;
  ProbeProtocol protocol;
  int port = 0;                     // the container port it targets, named ports resolved
  bool port_captured = true;        // whether the sidecar intercepts inbound traffic to that port
  std::string_view method = "GET";  // the kubelet's request (HTTP and gRPC probes)
  std::string_view path = "/";
};

// Why a probe is left out; the kind maps to a ProbeOutcome in rewrite.h.
struct ScopeExclusion {
  enum class Kind { kByPolicy, kNotRequired };
  Kind kind;
  std::string reason;  // "HealthProbePolicy shop/web covers only liveness probes"
};

// Mode WhenRequired: rewrite only what breaks otherwise. HTTP and gRPC probes break when their
// port's effective mTLS mode is STRICT, or when Istio's AuthorizationPolicies deny the
// kubelet's plaintext request (or cannot be judged: rewriting is always safe); TCP probes
// break (always succeed) when the workload is in the mesh. A port the sidecar does not
// capture breaks nothing.
struct WhenRequired {
  EffectiveMtls mtls;
  MeshMembership mesh;
  std::vector<AuthorizationPolicy> authorization;  // those that apply to the workload
  bool operator==(const WhenRequired&) const = default;
};

struct RewriteScope {
  std::set<ProbeFamily> families = kAllProbeFamilies;
  std::set<ProbeProtocol> protocols = kAllProbeProtocols;
  std::optional<WhenRequired> when_required;
  std::string origin;  // who narrowed the scope, for reasons: "HealthProbePolicy shop/web"

  // nullopt: rewrite it; then `required_because`, when given, says why when it is worth saying
  // (an AuthorizationPolicy), else it is left empty.
  std::optional<ScopeExclusion> exclusion(const ProbeCandidate& candidate,
                                          std::string* required_because = nullptr) const;
  // The part of exclusion() that needs only the slot and the protocol (policy's probes and
  // protocols), so that rewrite() can leave out a probe before reading it.
  std::optional<ScopeExclusion> policy_exclusion(ProbeSlot slot, ProbeProtocol protocol) const;
  bool operator==(const RewriteScope&) const = default;
};

}  // namespace meshprobe::probe
