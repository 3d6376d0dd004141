// InjectorReconciler: keeps the global toggle in the istio-sidecar-injector ConfigMap of the
// root namespace (DESIGN.md "Global toggle"): creates the ConfigMap when missing, fills in
// sidecarInjectorWebhook.rewriteAppHTTPProbe when missing, writes a mesh-wide
// HealthProbePolicy's value, and otherwise never touches it (plan_injector_values()). Writes
// are a create, or a JSON patch of data.values guarded by the resourceVersion, so a
// concurrent `kubectl apply` (which carries its own resourceVersion) and meshprobe never
// overwrite each other: whoever loses gets 409, and meshprobe re-plans from fresh state,
// where a user's value is left alone. No other key of the ConfigMap is ever written.
#pragma once

#include <optional>
#include <string>

#include "kube/api.h"
#include "kube/logger.h"
#include "kube/metrics.h"
#include "kube/workers.h"
#include "operator/cluster_state.h"

namespace meshprobe::controller {

// The value a mesh-wide HealthProbePolicy gives the toggle (Never: false; Always and
// WhenRequired: true), or nullopt when there is no mesh-wide policy.
std::optional<bool> mesh_wide_toggle(std::span<const probe::HealthProbePolicy> policies,
                                     const std::string& root_namespace);

class InjectorReconciler {
 public:
  InjectorReconciler(const ClusterCache& cache, kube::KubernetesApi& api,
                     kube::MetricsRegistry& metrics, kube::Logger& logger,
                     std::string root_namespace, bool default_rewrite);

  // The key is the ConfigMap's (root namespace/istio-sidecar-injector); there is only one.
  kube::ReconcileResult reconcile(const std::string& key);
  std::string key() const;

 private:
  const ClusterCache& cache_;
  kube::KubernetesApi& api_;
  kube::Logger& logger_;
  const std::string root_namespace_;
  const bool default_rewrite_;
  std::string last_problem_;  // logged once per change
  kube::CounterFamily& writes_;
};

}  // namespace meshprobe::controller
