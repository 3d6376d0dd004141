// What the operator's caches hold of each kind: compact projections of the objects as the API
// serves them (kube::Informer's projection hook), and the queries the reconcilers make of them.
// A workload keeps only what reconciling it reads: identity, generation, the workload's own
// rewrite annotation, the pod template and our condition (compressed), the template's labels,
// whether it is rewritten, and a summary of managedFields (who last wrote which probe fields); a
// Namespace only its labels (in kube::ObjectMeta); a policy its parsed spec or the reason it is
// invalid.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kube/informer.h"
#include "probe/authorization_policy.h"
#include "probe/health_probe_policy.h"
#include "probe/label_selector.h"
#include "probe/peer_authentication.h"

namespace meshprobe::controller {

// The field manager of every write meshprobe makes.
inline constexpr const char* kFieldManager = "meshprobe";

// One managedFields entry of a manager other than meshprobe, reduced to what conflict
// detection needs (every cached workload keeps these: nothing more).
struct ManagerSummary {
  std::string manager;
  std::string time;                   // RFC 3339, as the API server writes it
  bool owns_template_fields = false;  // anything under spec.template
  bool owns_probe_fields = false;     // a probe or lifecycle handler of a (init) container
  bool operator==(const ManagerSummary&) const = default;
};

// metadata.managedFields of a workload, without meshprobe's own entries and status entries;
// `template_path` is where the kind keeps its pod template ({"spec", "template"}).
std::vector<ManagerSummary> summarize_managed_fields(const nlohmann::json& managed_fields,
                                                     const std::vector<std::string>& template_path);

// One workload of any kind in workload_kinds() (workload_kinds.h).
struct WorkloadState {
  std::string uid;
  long long generation = 0;
  // sidecar.istio.io/rewriteAppHTTPProbers on the workload's own metadata (ignored by the
  // decision, but reported).
  std::optional<std::string> workload_rewrite_annotation;
  probe::Labels template_labels;
  // Compressed against workload_dictionary(): the reconciler decodes them, nothing else reads
  // them, and they are most of what a workload costs the cache (docs/benchmarks.md "The cache, per
  // Deployment").
  kube::CompactObject pod_template;  // at the kind's template path
  // Our status condition entry (for StatusStyle::kAnnotations: made from the annotations);
  // decodes to null when absent.
  kube::CompactObject condition;
  // "Rollout/web" when a controller ownerReference names another controller; empty otherwise.
  std::string controller_owner;
  // Where our entry sits in status.conditions, for StatusStyle::kPatchConditionList: its index,
  // or -1; and whether status and status.conditions exist at all.
  int condition_index = -1;
  bool has_status = false;
  bool has_conditions = false;
  bool has_template = false;      // false: a Rollout with workloadRef (its Deployment is)
  bool rewritten = false;         // probe::is_rewritten(template)
  bool update_on_delete = false;  // spec.updateStrategy.type OnDelete
  bool rollout_finished = true;   // the kind's read_progress() of this version
  bool rollout_waits_for_unready_pods = false;  // RolloutProgress::waits_for_unready_pods
  std::vector<ManagerSummary> managers;

  // {"annotations": {...}} with the workload annotation, for probe::DecisionInput.
  nlohmann::json workload_metadata() const;
};
struct WorkloadKind;
// `agent_port`: the configured one, to tell rewritten templates.
WorkloadState project_workload(const nlohmann::json& object, const WorkloadKind& kind,
                               int agent_port);

// What cached pod templates and conditions share: a rewritten template and its condition, as
// MessagePack (kube::CompressionDictionary).
const kube::CompressionDictionary& workload_dictionary();

struct NamespaceState {};  // the labels are in kube::ObjectMeta

struct PeerAuthenticationState {
  std::optional<probe::PeerAuthentication> peer_authentication;  // nullopt: invalid
  std::string problem;
};
PeerAuthenticationState project_peer_authentication(const nlohmann::json& object);

struct PolicyState {
  long long generation = 0;
  std::optional<probe::HealthProbePolicy> policy;  // nullopt: invalid spec
  std::string problem;                             // the validation error
  nlohmann::json status;                           // as served, or null
};
PolicyState project_policy(const nlohmann::json& object);

struct InjectorState {
  bool has_data = false;              // whether the ConfigMap has a data map at all
  std::optional<std::string> values;  // data.values, when present
};
InjectorState project_injector(const nlohmann::json& object);

struct AuthorizationPolicyState {
  std::optional<probe::AuthorizationPolicy> authorization_policy;  // nullopt: invalid
  std::string problem;
};
AuthorizationPolicyState project_authorization_policy(const nlohmann::json& object);

// The injector ConfigMap of an Istio revision (istio-sidecar-injector-<revision> in the root
// namespace); other ConfigMaps project to an empty revision and are not used.
struct RevisionInjectorState {
  std::string revision;
  std::optional<std::string> values;  // data.values, when present
};
RevisionInjectorState project_revision_injector(const nlohmann::json& object);

using WorkloadInformer = kube::Informer<WorkloadState>;
using NamespaceInformer = kube::Informer<NamespaceState>;
using PeerAuthenticationInformer = kube::Informer<PeerAuthenticationState>;
using PolicyInformer = kube::Informer<PolicyState>;
using InjectorInformer = kube::Informer<InjectorState>;
using AuthorizationPolicyInformer = kube::Informer<AuthorizationPolicyState>;
using RevisionInjectorInformer = kube::Informer<RevisionInjectorState>;

// The caches every reconciler reads; owned by the Operator (operator.h), or by a unit test
// that feeds them through their kube::ReflectorSink side.
// The workload caches, one per row of workload_kinds(), in its order.
struct WorkloadCaches {
  std::vector<WorkloadInformer*> informers;

  WorkloadInformer& of(const WorkloadKind& kind) const;
  // Every cached workload of every kind (of one namespace), with its kind.
  struct Entry {
    const WorkloadKind* kind;
    WorkloadInformer::ObjectPtr object;
  };
  std::vector<Entry> list() const;
  std::vector<Entry> list_namespace(const std::string& namespace_name) const;
  std::size_t size() const;
};

struct ClusterCache {
  WorkloadCaches workloads;
  NamespaceInformer& namespaces;
  PeerAuthenticationInformer& peer_authentications;
  PolicyInformer& policies;
  InjectorInformer& injector;
  AuthorizationPolicyInformer& authorization_policies;
  RevisionInjectorInformer& revision_injectors;

  // The valid policies that can decide for a workload in `namespace_name`: its own namespace's
  // and the root namespace's.
  std::vector<probe::HealthProbePolicy> policies_for(const std::string& namespace_name,
                                                     const std::string& root_namespace) const;
  std::vector<probe::PeerAuthentication> peer_authentications_for(
      const std::string& namespace_name, const std::string& root_namespace) const;
  probe::Labels namespace_labels(const std::string& namespace_name) const;
  std::vector<probe::AuthorizationPolicy> authorization_policies_for(
      const std::string& namespace_name, const std::string& root_namespace) const;
  // data.values of the injector ConfigMap; nullopt when the ConfigMap or the key is missing.
  std::optional<std::string> injector_values() const;
  // The toggle of every revision whose injector ConfigMap holds a readable one.
  std::map<std::string, bool, std::less<>> revision_toggles() const;
  // The workloads whose pods Istio revision `revision` injects: their namespace or their
  // template carries istio.io/rev=<revision>.
  std::vector<WorkloadCaches::Entry> workloads_of_revision(const std::string& revision) const;
};

}  // namespace meshprobe::controller
