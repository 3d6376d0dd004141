#include "operator/operator.h"

#include "kube/discovery.h"
#include "kube/rate_limiter.h"
#include "operator/injector_toggle.h"
#include "probe/names.h"

namespace meshprobe::controller {
namespace {

using nlohmann::json;

kube::ReflectorOptions in_namespace(kube::ReflectorOptions options, std::string namespace_name,
                                    std::string field_selector = "",
                                    std::string label_selector = "") {
  options.namespace_name = std::move(namespace_name);
  options.field_selector = std::move(field_selector);
  options.label_selector = std::move(label_selector);
  return options;
}

// Workloads in excluded namespaces are never touched (workload_plan.cc): the API server leaves
// them out of the workload lists and watches, so they cost neither memory nor CPU here.
kube::ReflectorOptions without_namespaces(kube::ReflectorOptions options,
                                          const std::set<std::string>& excluded) {
  std::string selector;
  for (const auto& namespace_name : excluded) {
    if (!selector.empty()) selector += ",";
    selector += "metadata.namespace!=" + namespace_name;
  }
  options.field_selector = std::move(selector);
  return options;
}

// Handlers that call `changed(object)` on every add, update and delete.
template <typename T>
typename kube::Informer<T>::Handlers on_any_change(
    std::function<void(const kube::Cached<T>&)> changed) {
  using ObjectPtr = typename kube::Informer<T>::ObjectPtr;
  return {[changed](const ObjectPtr& object) { changed(*object); },
          [changed](const ObjectPtr&, const ObjectPtr& object) { changed(*object); },
          [changed](const ObjectPtr& object) { changed(*object); }};
}

std::vector<std::unique_ptr<WorkloadInformer>> make_workload_informers(
    kube::KubernetesApi& api, kube::Discovery& discovery, int agent_port,
    const kube::ReflectorOptions& reflector, kube::Clock& clock, kube::Random& random,
    kube::MetricsRegistry& metrics, kube::Logger& logger) {
  std::vector<std::unique_ptr<WorkloadInformer>> informers;
  for (const auto& kind : workload_kinds()) {
    const auto& resource = kind.resource;
    informers.push_back(std::make_unique<WorkloadInformer>(
        resource.plural, api,
        kind.needs_discovery
            ? discovery.resolver(resource.group, resource.plural, {resource.version})
            : kube::fixed_resource(resource),
        [&kind, agent_port](const json& object) {
          return project_workload(object, kind, agent_port);
        },
        reflector, clock, random, metrics, logger,
        /*transform=*/WorkloadInformer::Transform{}));  // managedFields are summarised by the
                                                        // projection, then dropped with the JSON
  }
  return informers;
}

std::vector<WorkloadInformer*> pointers(
    const std::vector<std::unique_ptr<WorkloadInformer>>& informers) {
  std::vector<WorkloadInformer*> out;
  for (const auto& informer : informers) out.push_back(informer.get());
  return out;
}

}  // namespace

Operator::Operator(kube::KubernetesApi& api, kube::KubernetesApi& events_api,
                   OperatorOptions options, kube::Clock& clock, kube::Random& random,
                   kube::MetricsRegistry& metrics, kube::Logger& logger)
    : options_(std::move(options)),
      logger_(logger),
      discovery_(api),
      workloads_(make_workload_informers(
          api, discovery_, options_.workloads.agent.port,
          without_namespaces(options_.reflector, options_.workloads.excluded_namespaces), clock,
          random, metrics, logger)),
      namespaces_(
          "namespaces", api, kube::fixed_resource(kube::resources::kNamespaces),
          [](const json&) { return NamespaceState{}; }, options_.reflector, clock, random, metrics,
          logger),
      peer_authentications_(
          "peerauthentications", api,
          discovery_.resolver("security.istio.io", "peerauthentications", {"v1", "v1beta1"}),
          project_peer_authentication, options_.reflector, clock, random, metrics, logger),
      policies_("healthprobepolicies", api,
                discovery_.resolver(kHealthProbePolicies.group, kHealthProbePolicies.plural,
                                    {kHealthProbePolicies.version}),
                project_policy, options_.reflector, clock, random, metrics, logger),
      injector_("injector-configmap", api, kube::fixed_resource(kube::resources::kConfigMaps),
                project_injector,
                in_namespace(options_.reflector, options_.workloads.root_namespace,
                             std::string("metadata.name=") + kInjectorConfigMapName),
                clock, random, metrics, logger),
      authorization_policies_(
          "authorizationpolicies", api,
          discovery_.resolver("security.istio.io", "authorizationpolicies", {"v1", "v1beta1"}),
          project_authorization_policy, options_.reflector, clock, random, metrics, logger),
      revision_injectors_("revision-injector-configmaps", api,
                          kube::fixed_resource(kube::resources::kConfigMaps),
                          project_revision_injector,
                          in_namespace(options_.reflector, options_.workloads.root_namespace, "",
                                       std::string(probe::kIstioRevisionLabel)),
                          clock, random, metrics, logger),
      cache_{
          {pointers(workloads_)},  namespaces_,        peer_authentications_, policies_, injector_,
          authorization_policies_, revision_injectors_},
      workload_queue_("workloads", clock, kube::make_default_controller_rate_limiter(clock),
                      metrics),
      policy_queue_("healthprobepolicies", clock, kube::make_default_controller_rate_limiter(clock),
                    metrics),
      injector_queue_("injector", clock, kube::make_default_controller_rate_limiter(clock),
                      metrics),
      events_(events_api, clock, options_.identity, metrics, logger),
      reverts_(options_.reverts),
      pacer_(options_.rollouts, clock, metrics),
      workload_reconciler_(cache_, api, events_, reverts_, pacer_, clock, metrics, logger,
                           options_.workloads),
      policy_reconciler_(cache_, api, clock, metrics, logger, options_.workloads.root_namespace,
                         options_.workloads.excluded_namespaces),
      injector_reconciler_(cache_, api, metrics, logger, options_.workloads.root_namespace,
                           options_.workloads.default_rewrite),
      workload_workers_(
          "workloads", workload_queue_,
          [this](const std::string& key, std::stop_token stop) {
            return workload_reconciler_.reconcile(key, stop);
          },
          clock, metrics, logger),
      policy_workers_(
          "healthprobepolicies", policy_queue_,
          [this](const std::string& key) { return policy_reconciler_.reconcile(key); }, clock,
          metrics, logger),
      injector_workers_(
          "injector", injector_queue_,
          [this](const std::string& key) { return injector_reconciler_.reconcile(key); }, clock,
          metrics, logger) {
  const std::string& root = options_.workloads.root_namespace;
  for (const auto& kind : workload_kinds()) {
    workloads_[kind_index(kind)]->add_handlers(
        on_any_change<WorkloadState>([this, root, &kind](const auto& workload) {
          workload_queue_.add(workload_key(kind, workload.metadata.key()));
          enqueue_policies_of(workload.metadata.namespace_name);
          enqueue_policies_of(root);
        }));
  }
  pacer_.set_wake([this](const std::string& key) { workload_queue_.add(key); });
  namespaces_.add_handlers(on_any_change<NamespaceState>(
      [this](const auto& namespace_object) { enqueue_namespace(namespace_object.metadata.name); }));
  peer_authentications_.add_handlers(
      on_any_change<PeerAuthenticationState>([this, root](const auto& object) {
        if (!object.value.problem.empty()) {
          logger_.warning("ignoring PeerAuthentication " + object.metadata.key() + ": " +
                          object.value.problem);
        }
        if (object.metadata.namespace_name == root) {
          enqueue_all_workloads();
        } else {
          enqueue_namespace(object.metadata.namespace_name);
        }
      }));
  policies_.add_handlers(on_any_change<PolicyState>([this, root](const auto& object) {
    enqueue_policies_of(object.metadata.namespace_name);
    if (object.metadata.namespace_name == root) {
      enqueue_all_workloads();
      injector_queue_.add(injector_reconciler_.key());
    } else {
      enqueue_namespace(object.metadata.namespace_name);
    }
  }));
  authorization_policies_.add_handlers(
      on_any_change<AuthorizationPolicyState>([this, root](const auto& object) {
        if (!object.value.problem.empty()) {
          logger_.warning("ignoring AuthorizationPolicy " + object.metadata.key() + ": " +
                          object.value.problem);
        }
        if (object.metadata.namespace_name == root) {
          enqueue_all_workloads();
        } else {
          enqueue_namespace(object.metadata.namespace_name);
        }
      }));
  revision_injectors_.add_handlers(on_any_change<RevisionInjectorState>([this](const auto& object) {
    if (object.value.revision.empty()) return;
    for (const auto& [kind, workload] : cache_.workloads_of_revision(object.value.revision))
      workload_queue_.add(workload_key(*kind, workload->metadata.key()));
  }));
  injector_.add_handlers(on_any_change<InjectorState>([this](const auto&) {
    injector_queue_.add(injector_reconciler_.key());
    enqueue_all_workloads();
  }));
}

Operator::~Operator() { stop(); }

void Operator::enqueue_namespace(const std::string& namespace_name) {
  for (const auto& [kind, object] : cache_.workloads.list_namespace(namespace_name)) {
    workload_queue_.add(workload_key(*kind, object->metadata.key()));
  }
}

void Operator::enqueue_all_workloads() {
  for (const auto& [kind, object] : cache_.workloads.list()) {
    workload_queue_.add(workload_key(*kind, object->metadata.key()));
  }
}

void Operator::enqueue_policies_of(const std::string& namespace_name) {
  for (const auto& policy : policies_.list_namespace(namespace_name)) {
    policy_queue_.add_after(policy->metadata.key(), options_.policy_status_delay);
  }
}

void Operator::start_informers() {
  namespaces_.start();
  peer_authentications_.start();
  policies_.start();
  injector_.start();
  authorization_policies_.start();
  revision_injectors_.start();
  for (auto& informer : workloads_) informer->start();
}

bool Operator::wait_for_sync(std::stop_token stop) {
  bool synced = namespaces_.wait_for_sync(stop) && peer_authentications_.wait_for_sync(stop) &&
                policies_.wait_for_sync(stop) && injector_.wait_for_sync(stop) &&
                authorization_policies_.wait_for_sync(stop) &&
                revision_injectors_.wait_for_sync(stop);
  for (auto& informer : workloads_) synced = synced && informer->wait_for_sync(stop);
  return synced;
}

bool Operator::has_synced() const {
  bool synced = namespaces_.has_synced() && peer_authentications_.has_synced() &&
                policies_.has_synced() && injector_.has_synced() &&
                authorization_policies_.has_synced() && revision_injectors_.has_synced();
  for (const auto& informer : workloads_) synced = synced && informer->has_synced();
  return synced;
}

void Operator::start_workers(std::stop_token fence) {
  if (workers_started_) return;
  workers_started_ = true;
  // The ConfigMap is reconciled at least once, even when it does not exist (no event says so).
  injector_queue_.add(injector_reconciler_.key());
  injector_workers_.start(1, fence);
  policy_workers_.start(1, fence);
  workload_workers_.start(options_.workers, fence);
}

void Operator::stop() {
  workload_workers_.stop();
  policy_workers_.stop();
  injector_workers_.stop();
  for (auto& informer : workloads_) informer->stop();
  revision_injectors_.stop();
  authorization_policies_.stop();
  injector_.stop();
  policies_.stop();
  peer_authentications_.stop();
  namespaces_.stop();
}

}  // namespace meshprobe::controller
