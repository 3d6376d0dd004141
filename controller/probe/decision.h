// Whether to rewrite a workload's probes, and which: a pure function of everything that
// decides it (DESIGN.md "Decision"). Most specific wins:
//   1. the pod template's annotation sidecar.istio.io/rewriteAppHTTPProbers as its user wrote
//      it (meshprobe's own hold, istio_hold.h, is seen through), parsed as Go's
//      strconv.ParseBool does ("1", "t", "T", "TRUE", "true", "True" and the false forms); an
//      unparsable value is ignored and noted; the annotation on the workload's own metadata
//      is ignored and noted;
//   2. the most specific HealthProbePolicy (select_policy()): Never turns rewriting off,
//      Always rewrites its probes/protocols, WhenRequired only what would break otherwise;
//   3. for workloads in Istio's sidecar mesh (mesh.h), the global toggle of the injector
//      ConfigMap of the workload's revision; workloads outside it (no sidecar, ambient,
//      proxyless gRPC) are not rewritten.
// Besides whether, the decision says what Istio's injector will do to the pods, and whether
// meshprobe holds Istio's per-pod probe rewrite off (one rewrite per probe, whoever makes it):
// on a template meshprobe rewrote that has no istio-proxy yet, and on a template a policy keeps
// as it is where Istio's injector would rewrite it.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "probe/authorization_policy.h"
#include "probe/health_probe_policy.h"
#include "probe/label_selector.h"
#include "probe/mesh.h"
#include "probe/names.h"
#include "probe/peer_authentication.h"
#include "probe/result.h"
#include "probe/rewrite.h"
#include "probe/rewrite_scope.h"

namespace meshprobe::probe {

// Go's strconv.ParseBool.
std::optional<bool> parse_go_bool(std::string_view text);

struct DecisionInput {
  std::string_view workload_kind = "Deployment";  // for messages
  // The workload's own metadata (its annotation is ignored, with a note). For a Pod, pass the
  // Pod's metadata as template_metadata and leave this null.
  const nlohmann::json* workload_metadata = nullptr;
  // The pod template ({metadata, spec}, e.g. spec.template); null when absent. Its metadata is
  // the template metadata unless template_metadata is given.
  const nlohmann::json* pod_template = nullptr;
  const nlohmann::json* template_metadata = nullptr;
  std::string_view namespace_name;
  Labels namespace_labels;
  std::span<const HealthProbePolicy> policies;                  // accepted ones; any namespace
  std::span<const PeerAuthentication> peer_authentications;     // any namespace
  std::span<const AuthorizationPolicy> authorization_policies;  // any namespace
  std::string_view root_namespace = kDefaultRootNamespace;
  bool rewrite_globally = true;  // the global toggle (the default revision's ConfigMap)
  // The toggle of each revision's injector ConfigMap (istio-sidecar-injector-<revision>),
  // for the revisions whose ConfigMap exists.
  std::map<std::string, bool, std::less<>> revision_rewrite;
  // `meshprobe inject`: rewrite what it is given, whether or not the namespace is in the mesh
  // (the namespace is not known); Istio-rewritten probes and proxyless gRPC still are not.
  bool explicit_scope = false;
};

enum class DecisionSource { kTemplateAnnotation, kPolicy, kGlobalToggle, kMeshScope };

struct PolicyReference {
  std::string namespace_name;
  std::string name;
  PolicyLevel level = PolicyLevel::kWorkload;
  bool operator==(const PolicyReference&) const = default;
};

// What Istio's injector does to the pods' probes at admission, unless meshprobe holds it.
struct IstioRewrite {
  bool injects = false;   // the webhook injects the pods
  bool rewrites = false;  // ... and rewrites their probes to pilot-agent
  std::string setting;    // what decides that, for a person
  bool operator==(const IstioRewrite&) const = default;
};

struct Decision {
  bool rewrite = true;  // false: restore the template
  DecisionSource source = DecisionSource::kGlobalToggle;
  // What decided, for a person: "HealthProbePolicy shop/web (workload level, mode Never)".
  std::string message;
  // Inputs that were ignored, for a person: the annotation on the Deployment's own metadata,
  // an unparsable annotation value, a missing revision ConfigMap.
  std::vector<std::string> notes;
  // Which probes to rewrite (when `rewrite`); everything unless a policy narrowed it.
  RewriteScope scope;
  // The most specific policy for this workload, whether or not it decided (an annotation
  // overrides it): HealthProbePolicy.status counts the workloads it matches.
  std::optional<PolicyReference> policy;
  MeshScope mesh;
  IstioRewrite istio;
  // Whether meshprobe sets Istio's per-pod switch to "false" (istio_hold.h): when it rewrote
  // at least one probe, and when it keeps the template as it is.
  bool hold_when_rewritten = false;
  bool hold_when_kept = false;
};

Decision decide(const DecisionInput& input);

// The decision carried out on a pod template: rewrite() or restore(), then meshprobe's hold on
// Istio's rewrite where the decision asks for it. RewriteResult::held says whether it is held.
Result<RewriteResult> apply_decision(const Decision& decision, const nlohmann::json& pod_template,
                                     const AgentConfig& agent);

}  // namespace meshprobe::probe
