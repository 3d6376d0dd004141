// WorkloadReconciler: converges one workload of any kind in workload_kinds() (DESIGN.md
// "Decision", "Status", "Controller behaviour"; docs/workloads.md). reconcile("Kind/ns/name")
// reads the cache, decides with the engine, rewrites or restores the pod template with the
// engine, and writes only what differs:
//   - the template: a JSON patch of exactly the changed paths that also sets
//     metadata.resourceVersion to the version read (a precondition: 409 when it moved on), as field
//     manager meshprobe (server-side apply could not remove fields another manager owns, e.g.
//     tcpSocket when the probe becomes httpGet); a conflict (409) requeues and the next reconcile
//     starts from fresh state; a write that starts a rollout waits for a slot of the
//     RolloutPacer (maxConcurrentRollouts);
//   - the state: the condition HealthProbesRewritten as the kind's StatusStyle says (server-side
//     apply of that one entry on <kind>/status, field manager meshprobe, forced; a conditional
//     JSON patch of it where the list is atomic; annotations where the status has no
//     conditions), only when condition_to_write() says it changed;
//   - an Event for each rewrite and restore; Warning for InvalidProbe, ConflictingWriter and a
//     rollout past its deadline.
// A template owned by another controller (a controller ownerReference) is not written unless
// `rewrite_owned_templates`: the owner would put its template back at once (OwnedByController).
// After a write, WriteExpectations holds the workload until the cache has caught up, so a
// converged workload costs one template write and one status write, and is never written
// again.
//
// Conflicting writers: when a workload this process had seen converged (rewritten as meshprobe
// wants it) shows up changed so that it needs rewriting again while the decision still says
// rewrite, the manager that last wrote its probe fields (managedFields) reverted it: typically a
// GitOps tool applying its manifest, which puts the original probes back (server-side apply
// keeps the agent container meshprobe owns; a client-side apply or update removes it);
// RevertTracker counts these, and at its limit meshprobe stops rewriting that workload (reason
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
#include "operator/rollout_pacer.h"
#include "operator/workload_condition_gauge.h"
#include "operator/workload_kinds.h"
#include "operator/write_expectations.h"
#include "probe/condition.h"
#include "probe/decision.h"
#include "probe/rewrite.h"

namespace meshprobe::controller {

struct WorkloadReconcilerOptions {
  probe::AgentConfig agent;
  std::string root_namespace{probe::kDefaultRootNamespace};
  bool default_rewrite = true;  // when the injector ConfigMap does not say
  std::set<std::string> excluded_namespaces;
  kube::Duration expectation_timeout = std::chrono::minutes(1);
  // Write templates that another controller owns (a controller ownerReference) all the same.
  bool rewrite_owned_templates = false;
};

// The JSON patch (RFC 6902) that turns `current` into `desired` at `template_pointer`
// ("/spec/template"), after setting metadata.resourceVersion to `resource_version`, which makes
// it conditional.
std::string template_patch(const nlohmann::json& current, const nlohmann::json& desired,
                           const std::string& resource_version,
                           const std::string& template_pointer = "/spec/template");

// The server-side apply body for <kind>/status holding only `condition`.
nlohmann::json status_condition_apply(const WorkloadKind& kind, const std::string& namespace_name,
                                      const std::string& name, const nlohmann::json& condition);

// The merge patch that writes `condition` (an entry as condition_to_write() gives it) as the
// annotations of a kind with StatusStyle::kAnnotations (kStateStatusAnnotation and the others).
nlohmann::json state_annotations_patch(const nlohmann::json& condition);

class WorkloadReconciler {
 public:
  WorkloadReconciler(const ClusterCache& cache, kube::KubernetesApi& api, EventRecorder& events,
                     RevertTracker& reverts, RolloutPacer& pacer, kube::Clock& clock,
                     kube::MetricsRegistry& metrics, kube::Logger& logger,
                     WorkloadReconcilerOptions options);

  // `key`: workload_key() of the workload. `stop`: leadership lost or stopping; checked between
  // the template write and the next ones.
  kube::ReconcileResult reconcile(const std::string& key, std::stop_token stop = {});

 private:
  // A cached workload, as reconcile() passes it around.
  struct Workload {
    const WorkloadKind& kind;
    const std::string& key;  // workload_key()
    const kube::ObjectMeta& metadata;
    const WorkloadState& state;
  };
  kube::ReconcileResult reconcile_workload(const Workload& workload, std::stop_token stop);
  // Writes the state `summary` describes when it differs from the cached one; a failed write is
  // a retry (never dropped).
  kube::ReconcileResult write_condition(const Workload& workload,
                                        const probe::ConditionSummary& summary,
                                        std::set<std::string>& stale_versions);
  // The one write of the condition entry, as the kind's StatusStyle says; `base_version`: the
  // workload's version the write is based on (the one read, or this reconcile's template write).
  kube::ApiResult<nlohmann::json> write_state(const Workload& workload, const nlohmann::json& entry,
                                              const std::string& base_version);
  void log_probes(const Workload& workload, const probe::RewriteResult& result, bool rewrite);
  // The ConflictingWriter message when meshprobe must not rewrite this workload (now, or still).
  std::optional<std::string> conflicting_writer(const Workload& workload);
  // Into seen_rewritten_.
  void remember_rewritten(const std::string& key);
  // Reports (log, Warning Event) the rollouts the pacer gave up waiting for.
  void report_expired_rollouts();

  const ClusterCache& cache_;
  kube::KubernetesApi& api_;
  EventRecorder& events_;
  RevertTracker& reverts_;
  RolloutPacer& pacer_;
  kube::Clock& clock_;
  kube::Logger& logger_;
  WorkloadReconcilerOptions options_;
  WriteExpectations expectations_;

  // Workloads seen converged to their rewrite since this process started: one that needs
  // rewriting again, with the decision still "rewrite", was reverted.
  std::mutex seen_mutex_;
  std::unordered_set<std::string> seen_rewritten_;

  WorkloadConditionGauge conditions_;  // meshprobe_workloads{kind, reason}
  kube::CounterFamily& writes_;
  kube::CounterFamily& conflicts_;
  kube::Counter& reverts_counter_;
};

}  // namespace meshprobe::controller
