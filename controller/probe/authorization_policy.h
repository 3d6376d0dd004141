// Istio AuthorizationPolicy (security.istio.io v1 and v1beta1 share the spec) and whether it
// lets the kubelet's probe through a sidecar, judged as Istio's sidecar enforces it:
//   - the policies that apply to a workload: its namespace's without selector, its namespace's
//     whose selector.matchLabels are a subset of its labels, and the root namespace's (without
//     selector: every workload; with one: matching workloads in any namespace); policies with
//     targetRef(s) bind gateways and waypoints, never a sidecar, and are ignored; AUDIT
//     policies decide nothing;
//   - the order: CUSTOM, then DENY, then ALLOW. A matching DENY rule denies. When any ALLOW
//     policy applies, only a request that one of their rules matches passes (so `spec: {}`,
//     an ALLOW policy without rules, denies everything); without ALLOW policies, everything
//     that is not denied passes;
//   - the kubelet's request: plaintext (no peer principal, no namespace, no JWT), from the
//     node's address, `GET <path>` (a gRPC probe: `POST /grpc.health.v1.Health/Check`) on the
//     probe's container port, Host the pod's own address;
//   - what cannot be judged from the cluster's objects makes the verdict kUnknown with the
//     reason: a CUSTOM policy that matches (its external provider decides), ipBlocks (the
//     node's address), hosts (the pod's address), and `when` keys not modelled here.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "probe/label_selector.h"
#include "probe/result.h"

namespace meshprobe::probe {

enum class AuthorizationAction { kAllow, kDeny, kAudit, kCustom };
std::string_view authorization_action_name(AuthorizationAction action);  // "ALLOW", ...

struct AuthorizationCondition {
  std::string key;
  std::vector<std::string> values;
  std::vector<std::string> not_values;
  bool operator==(const AuthorizationCondition&) const = default;
};

// One `from` source or one `to` operation: its fields ("principals", "notPaths", ...), each a
// list of Istio string matches.
using AuthorizationFields = std::map<std::string, std::vector<std::string>>;

struct AuthorizationRule {
  std::vector<AuthorizationFields> from;  // rules[].from[].source
  std::vector<AuthorizationFields> to;    // rules[].to[].operation
  std::vector<AuthorizationCondition> when;
  bool operator==(const AuthorizationRule&) const = default;
};

struct AuthorizationPolicy {
  std::string namespace_name;
  std::string name;
  std::string creation_timestamp;
  Labels match_labels;   // spec.selector.matchLabels; empty: no selector
  bool targets = false;  // spec.targetRef or spec.targetRefs: not a sidecar's policy
  AuthorizationAction action = AuthorizationAction::kAllow;
  std::string provider;  // spec.provider.name (CUSTOM)
  std::vector<AuthorizationRule> rules;

  std::string reference() const;  // "AuthorizationPolicy shop/deny-health (DENY)"
  bool operator==(const AuthorizationPolicy&) const = default;
};

// From the object as the API server returns it; errors name the field.
Result<AuthorizationPolicy> parse_authorization_policy(const nlohmann::json& object);

// The policies (of any namespace) that apply to a workload's sidecar.
std::vector<AuthorizationPolicy> applicable_authorization_policies(
    std::span<const AuthorizationPolicy> policies, std::string_view root_namespace,
    std::string_view workload_namespace, const Labels& workload_labels);

struct KubeletRequest {
  int port = 0;
  std::string method = "GET";
  std::string path = "/";
};

struct AccessVerdict {
  enum class Access { kAllowed, kDenied, kUnknown };
  Access access = Access::kAllowed;
  std::string reason;  // kDenied, kUnknown: which policy and why
  bool operator==(const AccessVerdict&) const = default;
};

// `policies`: those that apply to the workload (applicable_authorization_policies()).
AccessVerdict kubelet_access(std::span<const AuthorizationPolicy> policies,
                             const KubeletRequest& request);

}  // namespace meshprobe::probe
