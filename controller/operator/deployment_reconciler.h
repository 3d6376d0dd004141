// DeploymentReconciler: converges one Deployment (DESIGN.md "Decision", "Status", "Controller
// behaviour"). reconcile(namespace/name) reads the cache, decides with the engine, rewrites or
// restores the pod template with the engine, and writes only what differs:
//   - the template: a JSON patch of exactly the changed paths that also sets
//     metadata.resourceVersion to the version read (a precondition: 409 when it moved on), as field
//     manager meshprobe (server-side apply could not remove fields another manager owns, e.g.
//     tcpSocket when the probe becomes httpGet); a conflict (409) requeues and the next reconcile
//     starts from fresh state;
//   - the condition HealthProbesRewritten: server-side apply of that one entry on
//     deployments/status (field manager meshprobe, forced), only when condition_to_write()
//     says it changed, so the deployment controller's status writes keep it;
//   - an Event for each rewrite and restore; Warning for InvalidProbe and ConflictingWriter.
// After a write, WriteExpectations holds the Deployment until the cache has caught up, so a
// converged Deployment costs one template write and one status write, and is never written
// again.
//
// Conflicting writers: when a Deployment this process had seen converged (rewritten as meshprobe
// wants it) shows up changed so that it needs rewriting again while the decision still says
// rewrite, the manager that last wrote its probe fields (managedFields) reverted it: typically a
// GitOps tool applying its manifest, which puts the original probes back (server-side apply
// keeps the agent container meshprobe owns; a client-side apply or update removes it);
// RevertTracker counts these, and at its limit meshprobe stops rewriting that Deployment (reason
// ConflictingWriter, Warning Event). The stop is kept by the condition itself (so it survives
// restarts) until a manager other than meshprobe changes the pod template after the condition was
// set (`kubectl rollout restart` asks for a retry), or the template arrives already rewritten
// (rendered with `meshprobe inject`).
#pragma once

#include <algorithm>
#include <mutex>
#include <set>
#include <stop_token>
#include <string>
#include <unordered_set>

#include "kube/api.h"
#include "kube/clock.h"
#include "kube/logger.h"
#include "kube/metrics.h"
#include "kube/workers.h"
#include "operator/cluster_state.h"
#include "operator/event_recorder.h"
#include "operator/revert_tracker.h"
#include "operator/workload_condition_gauge.h"
#include "operator/write_expectations.h"
#include "probe/condition.h"
#include "probe/decision.h"
#include "probe/rewrite.h"

namespace meshprobe::controller {

struct DeploymentReconcilerOptions {
  probe::AgentConfig agent;
  std::string root_namespace{probe::kDefaultRootNamespace};
  bool default_rewrite = true;  // when the injector ConfigMap does not say
  std::set<std::string> excluded_namespaces;
  kube::Duration expectation_timeout = std::chrono::minutes(1);
};

// The JSON patch (RFC 6902) that turns `current` into `desired` at `/spec/template`, after a
// setting metadata.resourceVersion to `resource_version`, which makes it conditional.
std::string template_patch(const nlohmann::json& current, const nlohmann::json& desired,
                           const std::string& resource_version);

// The server-side apply body for deployments/status holding only `condition`.
nlohmann::json status_condition_apply(const std::string& namespace_name, const std::string& name,
                                      const nlohmann::json& condition);

class DeploymentReconciler {
 public:
  DeploymentReconciler(const ClusterCache& cache, kube::KubernetesApi& api, EventRecorder& events,
                       RevertTracker& reverts, kube::Clock& clock, kube::MetricsRegistry& metrics,
                       kube::Logger& logger, DeploymentReconcilerOptions options);

  // `stop`: leadership lost or stopping; checked between the template write and the next ones.
  kube::ReconcileResult reconcile(const std::string& key, std::stop_token stop = {});

 private:
  kube::ReconcileResult write_condition(const kube::ObjectMeta& metadata,
                                        const DeploymentState& state,
                                        const probe::ConditionSummary& summary,
                                        std::set<std::string>& stale_versions);
  void log_probes(const kube::ObjectMeta& metadata, const probe::RewriteResult& result,
                  bool rewrite);
  // The ConflictingWriter message when meshprobe must not rewrite this Deployment (now, or still).
  std::optional<std::string> conflicting_writer(const kube::ObjectMeta& metadata,
                                                const DeploymentState& state);

  const ClusterCache& cache_;
  kube::KubernetesApi& api_;
  EventRecorder& events_;
  RevertTracker& reverts_;
  kube::Clock& clock_;
  kube::Logger& logger_;
  DeploymentReconcilerOptions options_;
  WriteExpectations expectations_;

  // Deployments seen converged to their rewrite since this process started: one that needs
  // rewriting again, with the decision still "rewrite", was reverted.
  std::mutex seen_mutex_;
  std::unordered_set<std::string> seen_rewritten_;

  WorkloadConditionGauge conditions_;  // meshprobe_workloads{kind, reason}
  kube::CounterFamily& writes_;
  kube::CounterFamily& conflicts_;
  kube::Counter& reverts_counter_;
};

}  // namespace meshprobe::controller
