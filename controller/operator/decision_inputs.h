// Everything the decision (probe::decide) needs about one workload, gathered from the caches in
// one place: the namespace's labels, the policies, PeerAuthentications and
// AuthorizationPolicies of its namespace and the root namespace, the default revision's toggle
// and every revision's. Every reconciler (and a preview) builds its probe::DecisionInput here.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "kube/informer.h"
#include "operator/cluster_state.h"
#include "probe/decision.h"

namespace meshprobe::controller {

struct DecisionSettings {
  std::string root_namespace;
  bool default_rewrite = true;  // the toggle when the injector ConfigMap has none
};

// Owns what the probe::DecisionInput it holds points at; neither copyable nor movable.
class DecisionInputs {
 public:
  // `workload_metadata`: {"annotations": {...}} of the workload itself (its rewrite annotation
  // is reported as ignored); `pod_template`: {metadata, spec}. Both must outlive this object.
  DecisionInputs(const ClusterCache& cache, const DecisionSettings& settings,
                 std::string_view workload_kind, const std::string& namespace_name,
                 const nlohmann::json& workload_metadata, const nlohmann::json& pod_template);
  DecisionInputs(const DecisionInputs&) = delete;
  DecisionInputs& operator=(const DecisionInputs&) = delete;

  const probe::DecisionInput& input() const { return input_; }

 private:
  std::string namespace_name_;
  std::string root_namespace_;
  std::vector<probe::HealthProbePolicy> policies_;
  std::vector<probe::PeerAuthentication> peer_authentications_;
  std::vector<probe::AuthorizationPolicy> authorization_policies_;
  probe::DecisionInput input_;
};

}  // namespace meshprobe::controller
