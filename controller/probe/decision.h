// Whether to rewrite a workload's probes, and which: a pure function of everything that
// decides it (DESIGN.md "Decision"). Most specific wins:
//   1. the pod template's annotation sidecar.istio.io/rewriteAppHTTPProbers, parsed as Go's
//      strconv.ParseBool does ("1", "t", "T", "TRUE", "true", "True" and the false forms); an
//      unparsable value is ignored and noted; the annotation on the workload's own metadata
//      is ignored and noted;
//   2. the most specific HealthProbePolicy (select_policy()): Never turns rewriting off,
//      Always rewrites its probes/protocols, WhenRequired only what would break otherwise;
//   3. the global toggle (the injector ConfigMap's sidecarInjectorWebhook.rewriteAppHTTPProbe).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "probe/health_probe_policy.h"
#include "probe/label_selector.h"
#include "probe/names.h"
#include "probe/peer_authentication.h"
#include "probe/rewrite_scope.h"

namespace meshprobe::probe {

// Go's strconv.ParseBool.
std::optional<bool> parse_go_bool(std::string_view text);

struct DecisionInput {
  std::string_view workload_kind = "Deployment";  // for messages
  // The workload's own metadata (its annotation is ignored, with a note). For a Pod, pass the
  // Pod's metadata as template_metadata and leave this null.
  const nlohmann::json* workload_metadata = nullptr;
  // The pod template's metadata (labels and annotations), e.g. spec.template.metadata; null
  // when absent.
  const nlohmann::json* template_metadata = nullptr;
  std::string_view namespace_name;
  Labels namespace_labels;
  std::span<const HealthProbePolicy> policies;               // accepted ones; any namespace
  std::span<const PeerAuthentication> peer_authentications;  // any namespace
  std::string_view root_namespace = kDefaultRootNamespace;
  bool rewrite_globally = true;  // the global toggle
};

enum class DecisionSource { kTemplateAnnotation, kPolicy, kGlobalToggle };

struct PolicyReference {
  std::string namespace_name;
  std::string name;
  PolicyLevel level = PolicyLevel::kWorkload;
  bool operator==(const PolicyReference&) const = default;
};

struct Decision {
  bool rewrite = true;  // false: restore the template
  DecisionSource source = DecisionSource::kGlobalToggle;
  // What decided, for a person: "HealthProbePolicy shop/web (workload level, mode Never)".
  std::string message;
  // Inputs that were ignored, for a person: the annotation on the Deployment's own metadata,
  // an unparsable annotation value.
  std::vector<std::string> notes;
  // Which probes to rewrite (when `rewrite`); everything unless a policy narrowed it.
  RewriteScope scope;
  // The most specific policy for this workload, whether or not it decided (an annotation
  // overrides it): HealthProbePolicy.status counts the workloads it matches.
  std::optional<PolicyReference> policy;
};

Decision decide(const DecisionInput& input);

}  // namespace meshprobe::probe
