// HealthProbePolicy (healthprobepolicies.meshprobe.io/v1alpha1): the model, its validation,
// and which policy applies to a workload.
//   spec.selector   label selector (optional; absent or empty: the whole namespace)
//   spec.mode       Always | Never | WhenRequired (absent: Always)
//   spec.probes     subset of liveness, readiness, startup, lifecycle (absent: all)
//   spec.protocols  subset of HTTP, TCP, GRPC (absent: all)
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include "probe/label_selector.h"
#include "probe/result.h"
#include "probe/rewrite_scope.h"

namespace meshprobe::probe {

enum class PolicyMode { kAlways, kNever, kWhenRequired };
std::string_view policy_mode_name(PolicyMode mode);  // "Always", "Never", "WhenRequired"

struct HealthProbePolicy {
  std::string namespace_name;
  std::string name;
  std::string creation_timestamp;  // RFC 3339 as the API server writes it; compared as text
  std::optional<LabelSelector> selector;
  PolicyMode mode = PolicyMode::kAlways;
  std::set<ProbeFamily> probes = kAllProbeFamilies;
  std::set<ProbeProtocol> protocols = kAllProbeProtocols;

  std::string reference() const;  // "HealthProbePolicy shop/web"
  bool operator==(const HealthProbePolicy&) const = default;
};

// Validates the object as the API server returns it. The error is one message naming every
// problem's field ("spec.mode: must be one of Always, Never, WhenRequired, got \"Sometimes\"";
// several are joined with "; "): the operator writes it into the policy's Accepted condition.
Result<HealthProbePolicy> parse_health_probe_policy(const nlohmann::json& object);

enum class PolicyLevel { kWorkload, kNamespace, kMesh };
std::string_view policy_level_name(PolicyLevel level);  // "workload level", ...

struct PolicyMatch {
  const HealthProbePolicy* policy = nullptr;  // points into the span given to select_policy()
  PolicyLevel level = PolicyLevel::kWorkload;
};

// The most specific policy for a workload: one in its namespace whose non-empty selector
// matches the template labels, else one in its namespace without selector, else one without
// selector in the root namespace (mesh wide). Ties: the oldest creationTimestamp, then name.
// Policies with a selector in the root namespace apply only to workloads in that namespace.
std::optional<PolicyMatch> select_policy(std::span<const HealthProbePolicy> policies,
                                         std::string_view root_namespace,
                                         std::string_view workload_namespace,
                                         const Labels& template_labels);

}  // namespace meshprobe::probe
