#include "probe/decision.h"

#include "probe/mesh.h"
#include "probe/object_fields.h"

namespace meshprobe::probe {
namespace {

using nlohmann::json;

const json& or_empty(const json* value) {
  static const json empty = json::object();
  return value != nullptr ? *value : empty;
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
  const json& template_metadata = or_empty(input.template_metadata);
  if (auto misplaced = annotation(or_empty(input.workload_metadata), annotation_key)) {
    decision.notes.push_back("the " + std::string(input.workload_kind) + "'s own annotation " +
                             annotation_key + "=\"" + *misplaced +
                             "\" is ignored: it belongs on the pod template " +
                             "(spec.template.metadata.annotations)");
  }

  const Labels template_labels = labels_of(template_metadata);
  const auto match =
      select_policy(input.policies, input.root_namespace, input.namespace_name, template_labels);
  if (match)
    decision.policy =
        PolicyReference{match->policy->namespace_name, match->policy->name, match->level};

  if (auto value = annotation(template_metadata, annotation_key)) {
    if (auto parsed = parse_go_bool(*value)) {
      decision.rewrite = *parsed;
      decision.source = DecisionSource::kTemplateAnnotation;
      decision.message = "the pod template's annotation " + annotation_key + "=\"" + *value + "\"";
      return decision;
    }
    decision.notes.push_back("the pod template's annotation " + annotation_key + "=\"" + *value +
                             "\" is not a boolean and is ignored");
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
    if (policy.mode == PolicyMode::kWhenRequired) {
      decision.scope.when_required =
          WhenRequired{effective_mtls(input.peer_authentications, input.root_namespace,
                                      input.namespace_name, template_labels),
                       mesh_membership(input.namespace_labels, template_metadata)};
    }
    return decision;
  }

  decision.source = DecisionSource::kGlobalToggle;
  decision.rewrite = input.rewrite_globally;
  decision.message = std::string("the global setting sidecarInjectorWebhook.rewriteAppHTTPProbe=") +
                     (input.rewrite_globally ? "true" : "false");
  return decision;
}

}  // namespace meshprobe::probe
