// Istio PeerAuthentication (security.istio.io v1 and v1beta1 share the spec) and the
// effective mutual TLS mode of a workload's port, computed as Istio's control plane does:
//   - a policy in the workload's namespace whose selector.matchLabels are a subset of the
//     workload's labels (workload level) wins over the namespace's policy without selector
//     (namespace level), which wins over the one without selector in the root namespace
//     (mesh level); policies with a selector in the root namespace are ignored;
//   - several policies at one level: the oldest (creationTimestamp, then name) wins;
//   - UNSET (or no mtls) inherits from the next wider level; nothing at all is PERMISSIVE;
//   - portLevelMtls is taken from the workload-level policy only and is keyed by the
//     container port number (the probe's port); an UNSET port inherits the workload's mode.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

#include "probe/label_selector.h"
#include "probe/result.h"

namespace meshprobe::probe {

enum class MtlsMode { kUnset, kDisable, kPermissive, kStrict };
std::string_view mtls_mode_name(MtlsMode mode);  // "UNSET", "DISABLE", "PERMISSIVE", "STRICT"

struct PeerAuthentication {
  std::string namespace_name;
  std::string name;
  std::string creation_timestamp;  // RFC 3339 as the API server writes it; compared as text
  Labels match_labels;             // empty: namespace or mesh level
  MtlsMode mode = MtlsMode::kUnset;
  std::map<int, MtlsMode> port_level;
  bool operator==(const PeerAuthentication&) const = default;
};

// From the object as the API server returns it. Errors name the field
// ("spec.portLevelMtls.80x: port must be an integer in 1..65535").
Result<PeerAuthentication> parse_peer_authentication(const nlohmann::json& object);

// A mode and the policy it comes from, for messages:
// "STRICT (PeerAuthentication shop/strict, workload level)" or "PERMISSIVE (default, no
// PeerAuthentication)".
struct SourcedMtlsMode {
  MtlsMode mode = MtlsMode::kPermissive;
  std::string source;
  std::string describe() const;
  bool operator==(const SourcedMtlsMode&) const = default;
};

struct EffectiveMtls {
  SourcedMtlsMode workload;                 // the mode of every port not listed below
  std::map<int, SourcedMtlsMode> per_port;  // from the workload-level policy's portLevelMtls

  const SourcedMtlsMode& for_port(int port) const;
  bool operator==(const EffectiveMtls&) const = default;
};

// `policies` may hold any PeerAuthentications; those outside the workload's namespace and the
// root namespace are ignored.
EffectiveMtls effective_mtls(std::span<const PeerAuthentication> policies,
                             std::string_view root_namespace, std::string_view workload_namespace,
                             const Labels& workload_labels);

}  // namespace meshprobe::probe
