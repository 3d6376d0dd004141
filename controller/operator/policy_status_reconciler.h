// PolicyStatusReconciler: HealthProbePolicy status (DESIGN.md "Status"): observedGeneration;
// the Accepted condition (True; False with InvalidSpec and the validation error; False with
// Superseded when an older policy of the same specificity, also without a selector in the
// same namespace, wins the tie); matchedWorkloads (workloads of every kind this policy is the
// most specific one for) and rewrittenWorkloads (of those, the ones with a probe rewritten),
// and the same for Deployments alone (matchedDeployments, rewrittenDeployments, as before
// other kinds were rewritten), counted from the cache. Written with a merge patch of /status, only
// when it changed, and not again until the cache shows the write.
#pragma once

#include <set>
#include <string>

#include "kube/api.h"
#include "kube/clock.h"
#include "kube/logger.h"
#include "kube/metrics.h"
#include "kube/workers.h"
#include "operator/cluster_state.h"
#include "operator/write_expectations.h"

namespace meshprobe::controller {

inline const kube::ResourceType kHealthProbePolicies{
    "meshprobe.io", "v1alpha1", "healthprobepolicies", "HealthProbePolicy", true};

struct PolicyCounts {
  int matched = 0;  // workloads of every kind
  int rewritten = 0;
  int matched_deployments = 0;
  int rewritten_deployments = 0;
  bool operator==(const PolicyCounts&) const = default;
};

class PolicyStatusReconciler {
 public:
  PolicyStatusReconciler(const ClusterCache& cache, kube::KubernetesApi& api, kube::Clock& clock,
                         kube::MetricsRegistry& metrics, kube::Logger& logger,
                         std::string root_namespace, std::set<std::string> excluded_namespaces);

  kube::ReconcileResult reconcile(const std::string& key);

  // The workloads `policy` is the most specific policy for.
  PolicyCounts count(const probe::HealthProbePolicy& policy) const;

 private:
  const ClusterCache& cache_;
  kube::KubernetesApi& api_;
  kube::Clock& clock_;
  kube::Logger& logger_;
  const std::string root_namespace_;
  const std::set<std::string> excluded_namespaces_;
  WriteExpectations expectations_;  // a status written is not recounted from the stale cache
  kube::CounterFamily& writes_;
};

}  // namespace meshprobe::controller
