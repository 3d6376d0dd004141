#include "probe/decision.h"

#include "probe/istio_hold.h"
#include "probe/object_fields.h"

namespace meshprobe::probe {
namespace {

using nlohmann::json;

const json& or_empty(const json* value) {
  static const json empty = json::object();
  return value != nullptr && value->is_object() ? *value : empty;
}

// The injector ConfigMap toggle that governs the workload's revision, and how to name it.
struct Toggle {
  bool rewrite = true;
  std::string description;
};

Toggle toggle_of(const DecisionInput& input, const std::string& revision,
                 std::vector<std::string>& notes) {
  const std::string field = "sidecarInjectorWebhook.rewriteAppHTTPProbe=";
  auto describe = [&](bool value, const std::string& where) {
    return Toggle{value, "the global setting " + field + (value ? "true" : "false") + where};
  };
  if (revision.empty()) return describe(input.rewrite_globally, "");
  const std::string config_map = "istio-sidecar-injector-" + revision;
  if (auto it = input.revision_rewrite.find(revision); it != input.revision_rewrite.end()) {
    return describe(it->second, " of revision " + revision + " (ConfigMap " +
                                    std::string(input.root_namespace) + "/" + config_map + ")");
  }
  notes.push_back("the pods are injected by Istio revision " + revision + ", but its ConfigMap " +
                  std::string(input.root_namespace) + "/" + config_map +
                  " is not there; the default revision's setting applies");
  return describe(input.rewrite_globally, "");
}

std::string data_plane_message(const MeshScope& mesh) {
  switch (mesh.data_plane) {
    case DataPlane::kAmbient:
      return "the workload is in Istio's ambient data plane (" + mesh.reason +
             "): ztunnel lets the kubelet's probes in, nothing needs rewriting";
    case DataPlane::kProxylessGrpc:
      return "the workload uses Istio's proxyless gRPC (" + mesh.reason +
             "): no Envoy captures its traffic, as Istio leaves its probes";
    case DataPlane::kNone:
    case DataPlane::kSidecar:
      break;
  }
  return "the workload is not in Istio's sidecar mesh (" + mesh.reason + ")";
}

}  // namespace

std::optional<bool> parse_go_bool(std::string_view text) {
  for (std::string_view yes : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (text == yes) return true;
  }
  for (std::string_view no : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (text == no) return false;
  }
  return std::nullopt;
}

Decision decide(const DecisionInput& input) {
  Decision decision;
  const std::string annotation_key(kRewriteAppProbersAnnotation);
  const json& pod_template = or_empty(input.pod_template);
  const json& template_metadata = input.template_metadata != nullptr
                                      ? or_empty(input.template_metadata)
                                      : or_empty(find_member(pod_template, "metadata"));
  if (auto misplaced = annotation(or_empty(input.workload_metadata), annotation_key)) {
    decision.notes.push_back("the " + std::string(input.workload_kind) + "'s own annotation " +
                             annotation_key + "=\"" + *misplaced +
                             "\" is ignored: it belongs on the pod template " +
                             "(spec.template.metadata.annotations)");
  }

  decision.mesh = mesh_scope(input.namespace_labels, input.namespace_name, template_metadata,
                             or_empty(find_member(pod_template, "spec")));
  if (input.explicit_scope && decision.mesh.data_plane == DataPlane::kNone &&
      selects_proxyless_grpc(template_metadata)) {
    decision.mesh.data_plane = DataPlane::kProxylessGrpc;
    decision.mesh.reason = "pod template annotation " + std::string(kInjectTemplatesAnnotation) +
                           " selects Istio's proxyless gRPC template";
  }
  const Toggle toggle = toggle_of(input, decision.mesh.revision, decision.notes);
  const Labels template_labels = labels_of(template_metadata);
  const auto match =
      select_policy(input.policies, input.root_namespace, input.namespace_name, template_labels);
  if (match)
    decision.policy =
        PolicyReference{match->policy->namespace_name, match->policy->name, match->level};

  // What the user wrote, meshprobe's own hold seen through; and what Istio makes of it.
  std::optional<bool> user_choice;
  const auto value = user_rewrite_annotation(template_metadata);
  if (value) {
    user_choice = parse_go_bool(*value);
    if (!user_choice)
      decision.notes.push_back("the pod template's annotation " + annotation_key + "=\"" + *value +
                               "\" is not a boolean and is ignored");
  }
  decision.istio.injects = decision.mesh.injector_injects;
  decision.istio.rewrites = decision.istio.injects && user_choice.value_or(toggle.rewrite);
  decision.istio.setting =
      user_choice ? "the pod template's annotation " + annotation_key + "=\"" + *value + "\""
                  : toggle.description;
  // A template with istio-proxy already rendered is never injected again.
  decision.hold_when_rewritten = !decision.mesh.sidecar_in_template;

  if (user_choice) {
    decision.rewrite = *user_choice;
    decision.source = DecisionSource::kTemplateAnnotation;
    decision.message = "the pod template's annotation " + annotation_key + "=\"" + *value + "\"";
    return decision;
  }

  if (match) {
    const HealthProbePolicy& policy = *match->policy;
    decision.source = DecisionSource::kPolicy;
    decision.rewrite = policy.mode != PolicyMode::kNever;
    decision.message = policy.reference() + " (" + std::string(policy_level_name(match->level)) +
                       ", mode " + std::string(policy_mode_name(policy.mode)) + ")";
    decision.scope.families = policy.probes;
    decision.scope.protocols = policy.protocols;
    decision.scope.origin = policy.reference();
    decision.hold_when_kept = !decision.rewrite && decision.istio.rewrites;
    if (policy.mode == PolicyMode::kWhenRequired) {
      decision.scope.when_required = WhenRequired{
          effective_mtls(input.peer_authentications, input.root_namespace, input.namespace_name,
                         template_labels),
          membership_of(decision.mesh),
          applicable_authorization_policies(input.authorization_policies, input.root_namespace,
                                            input.namespace_name, template_labels)};
    }
    return decision;
  }

  const bool in_scope =
      decision.mesh.data_plane == DataPlane::kSidecar ||
      (input.explicit_scope && decision.mesh.data_plane != DataPlane::kProxylessGrpc);
  if (!in_scope) {
    decision.source = DecisionSource::kMeshScope;
    decision.rewrite = false;
    decision.message = data_plane_message(decision.mesh);
    return decision;
  }
  decision.source = DecisionSource::kGlobalToggle;
  decision.rewrite = toggle.rewrite;
  decision.message = toggle.description;
  return decision;
}

Result<RewriteResult> apply_decision(const Decision& decision, const json& pod_template,
                                     const AgentConfig& agent) {
  auto result = decision.rewrite ? rewrite(pod_template, agent, decision.scope)
                                 : restore(pod_template, agent.port);
  if (!result) return result;
  const bool hold = decision.rewrite ? decision.hold_when_rewritten && !result->app_probers.empty()
                                     : decision.hold_when_kept;
  if (hold) {
    hold_istio_rewrite(result->pod_template);
    result->held = true;
    result->changed = result->pod_template != pod_template;
  }
  return result;
}

}  // namespace meshprobe::probe
