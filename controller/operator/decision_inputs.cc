#include "operator/decision_inputs.h"

#include "operator/injector_toggle.h"

namespace meshprobe::controller {

DecisionInputs::DecisionInputs(const ClusterCache& cache, const DecisionSettings& settings,
                               std::string_view workload_kind, const std::string& namespace_name,
                               const nlohmann::json& workload_metadata,
                               const nlohmann::json& pod_template)
    : namespace_name_(namespace_name),
      root_namespace_(settings.root_namespace),
      policies_(cache.policies_for(namespace_name, settings.root_namespace)),
      peer_authentications_(
          cache.peer_authentications_for(namespace_name, settings.root_namespace)),
      authorization_policies_(
          cache.authorization_policies_for(namespace_name, settings.root_namespace)) {
  input_.workload_kind = workload_kind;
  input_.workload_metadata = &workload_metadata;
  input_.pod_template = &pod_template;
  input_.namespace_name = namespace_name_;
  input_.namespace_labels = cache.namespace_labels(namespace_name);
  input_.policies = policies_;
  input_.peer_authentications = peer_authentications_;
  input_.authorization_policies = authorization_policies_;
  input_.root_namespace = root_namespace_;
  input_.rewrite_globally =
      read_injector_toggle(cache.injector_values()).rewrite.value_or(settings.default_rewrite);
  input_.revision_rewrite = cache.revision_toggles();
}

}  // namespace meshprobe::controller
