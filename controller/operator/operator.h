// Operator: the controller's moving parts, wired together. Informers on the workloads of every
// kind in workload_kinds() (Argo Rollouts' once its CRD is served, also when it is installed
// after the start), Namespaces, PeerAuthentications (security.istio.io, v1 or v1beta1, whichever is
// served, also once Istio is installed after the start), HealthProbePolicies and the injector
// ConfigMap keep the cache (cluster_state.h); their handlers only put keys on work queues
// (level-triggered), mapping every change to what it affects:
//   workload            -> that workload; the policies that may count it
//   Namespace           -> its workloads
//   PeerAuthentication  -> the workloads of its namespace (all of them in the root namespace)
//   AuthorizationPolicy -> the same (security.istio.io v1 or v1beta1, like PeerAuthentication)
//   HealthProbePolicy   -> the same, its namespace's policies (ties), the ConfigMap (root)
//   injector ConfigMap  -> every workload, and the ConfigMap itself
//   a revision's injector ConfigMap (istio-sidecar-injector-<rev>, root namespace, watched by
//                          the label istio.io/rev Istio's chart puts on it)
//                       -> the workloads of that revision
//   a rollout slot frees-> the workloads waiting for one (RolloutPacer)
// Three queues, each with its workers: workloads of every kind (N workers; keys
// "Kind/namespace/name"), policy status (1), the ConfigMap (1). Informers run on every replica
// (warm caches); only the leader runs workers.
#pragma once

#include <array>
#include <memory>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "kube/api.h"
#include "kube/clock.h"
#include "kube/discovery.h"
#include "kube/informer.h"
#include "kube/logger.h"
#include "kube/metrics.h"
#include "kube/random.h"
#include "kube/work_queue.h"
#include "kube/workers.h"
#include "operator/cluster_state.h"
#include "operator/event_recorder.h"
#include "operator/injector_reconciler.h"
#include "operator/policy_status_reconciler.h"
#include "operator/revert_tracker.h"
#include "operator/rollout_pacer.h"
#include "operator/workload_reconciler.h"

namespace meshprobe::controller {

struct OperatorOptions {
  WorkloadReconcilerOptions workloads;
  RolloutPacer::Options rollouts;
  int workers = 4;
  std::string identity;  // this replica, for Events' reportingInstance
  RevertTracker::Options reverts;
  // How long workload changes are gathered before a policy's status is counted again.
  kube::Duration policy_status_delay = std::chrono::seconds(1);
  kube::ReflectorOptions reflector;
};

class Operator {
 public:
  // `events_api` sends the Events: in main() a client of its own, with its own rate limit, as
  // client-go's event broadcaster has, so that Events never delay the writes that matter.
  Operator(kube::KubernetesApi& api, kube::KubernetesApi& events_api, OperatorOptions options,
           kube::Clock& clock, kube::Random& random, kube::MetricsRegistry& metrics,
           kube::Logger& logger);
  ~Operator();
  Operator(const Operator&) = delete;
  Operator& operator=(const Operator&) = delete;

  void start_informers();
  // Blocks until every informer has its first list, or `stop`; returns has_synced().
  bool wait_for_sync(std::stop_token stop);
  bool has_synced() const;
  // The leader's part: the workers. Idempotent. When `fence` is stopped (leadership lost) the
  // workers stop at once: no reconcile starts, the ones in flight see their token stopped.
  void start_workers(std::stop_token fence = {});
  // Stops taking work (not even queued keys are reconciled), lets in-flight reconciles finish,
  // then stops the informers.
  void stop();

  const ClusterCache& cache() const { return cache_; }
  // The work queues: {workloads, healthprobepolicies, injector}, for tests of the event mapping.
  std::array<kube::WorkQueue*, 3> queues() {
    return {&workload_queue_, &policy_queue_, &injector_queue_};
  }

 private:
  void enqueue_namespace(const std::string& namespace_name);
  void enqueue_all_workloads();
  void enqueue_policies_of(const std::string& namespace_name);

  OperatorOptions options_;
  kube::Logger& logger_;

  kube::Discovery discovery_;  // shared by the informers of discovered resources
  std::vector<std::unique_ptr<WorkloadInformer>> workloads_;  // one per workload_kinds() row
  NamespaceInformer namespaces_;
  PeerAuthenticationInformer peer_authentications_;
  PolicyInformer policies_;
  InjectorInformer injector_;
  AuthorizationPolicyInformer authorization_policies_;
  RevisionInjectorInformer revision_injectors_;
  ClusterCache cache_;

  kube::WorkQueue workload_queue_;
  kube::WorkQueue policy_queue_;
  kube::WorkQueue injector_queue_;

  EventRecorder events_;
  RevertTracker reverts_;
  RolloutPacer pacer_;
  WorkloadReconciler workload_reconciler_;
  PolicyStatusReconciler policy_reconciler_;
  InjectorReconciler injector_reconciler_;

  kube::Workers workload_workers_;
  kube::Workers policy_workers_;
  kube::Workers injector_workers_;
  bool workers_started_ = false;
};

}  // namespace meshprobe::controller
