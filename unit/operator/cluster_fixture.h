// The operator's unit-test world: the real caches (informers that are never started; tests
// feed them through their ReflectorSink side, as a watch would), the KubernetesApi seam as a
// StrictMock (an unexpected call fails the test), FakeClock, and small builders of objects.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "kube/fake_clock.h"
#include "kube/informer.h"
#include "kube/metrics.h"
#include "kube/mocks/mock_kubernetes_api.h"
#include "kube/mocks/mock_random.h"
#include "kube/test_support.h"
#include "operator/cluster_state.h"
#include "probe/names.h"
#include "probe/rewrite.h"

namespace meshprobe::controller {

inline constexpr int kTestAgentPort = probe::kDefaultAgentPort;

class ClusterFixture : public ::testing::Test {
 protected:
  template <typename T>
  using Projection = typename kube::Informer<T>::Projection;

  template <typename T>
  static std::unique_ptr<kube::Informer<T>> informer(const char* name, kube::KubernetesApi& api,
                                                     Projection<T> project, kube::Clock& clock,
                                                     kube::Random& random,
                                                     kube::MetricsRegistry& metrics,
                                                     kube::Logger& logger) {
    return std::make_unique<kube::Informer<T>>(
        name, api, kube::fixed_resource(kube::resources::kConfigMaps), std::move(project),
        kube::ReflectorOptions{}, clock, random, metrics, logger,
        typename kube::Informer<T>::Transform{});
  }

  ::testing::StrictMock<kube::MockKubernetesApi> api;
  kube::FakeClock clock;
  ::testing::NiceMock<kube::MockRandom> random;
  kube::MetricsRegistry metrics;
  kube::RecordingLogger logger;
  std::unique_ptr<DeploymentInformer> deployments = informer<DeploymentState>(
      "deployments", api,
      [](const nlohmann::json& object) { return project_deployment(object, kTestAgentPort); },
      clock, random, metrics, logger);
  std::unique_ptr<NamespaceInformer> namespaces = informer<NamespaceState>(
      "namespaces", api, [](const nlohmann::json&) { return NamespaceState{}; }, clock, random,
      metrics, logger);
  std::unique_ptr<PeerAuthenticationInformer> peer_authentications =
      informer<PeerAuthenticationState>("peerauthentications", api, project_peer_authentication,
                                        clock, random, metrics, logger);
  std::unique_ptr<PolicyInformer> policies = informer<PolicyState>(
      "healthprobepolicies", api, project_policy, clock, random, metrics, logger);
  std::unique_ptr<InjectorInformer> injector =
      informer<InjectorState>("injector", api, project_injector, clock, random, metrics, logger);
  std::unique_ptr<AuthorizationPolicyInformer> authorization_policies =
      informer<AuthorizationPolicyState>("authorizationpolicies", api, project_authorization_policy,
                                         clock, random, metrics, logger);
  std::unique_ptr<RevisionInjectorInformer> revision_injectors = informer<RevisionInjectorState>(
      "revision-injectors", api, project_revision_injector, clock, random, metrics, logger);
  ClusterCache cache{*deployments,       *namespaces, *peer_authentications,
                     *policies,          *injector,   *authorization_policies,
                     *revision_injectors};
};

// Puts `object` into its cache as a watch event would.
template <typename T>
void put(kube::Informer<T>& informer, const nlohmann::json& object) {
  informer.apply(kube::WatchEventType::kModified, object);
}

// A Deployment as the API server serves it, with one container `web`.
inline nlohmann::json deployment_object(const std::string& namespace_name, const std::string& name,
                                        const std::string& resource_version,
                                        nlohmann::json pod_spec) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata",
           {{"namespace", namespace_name},
            {"name", name},
            {"uid", "uid-" + name},
            {"generation", 1},
            {"resourceVersion", resource_version}}},
          {"spec",
           {{"template",
             {{"metadata", {{"labels", {{"app", name}}}}}, {"spec", std::move(pod_spec)}}}}},
          {"status", nlohmann::json::object()}};
}

inline nlohmann::json http_liveness_pod_spec(int port = 8080) {
  return {{"containers",
           nlohmann::json::array(
               {{{"name", "web"},
                 {"image", "web:1"},
                 {"ports", nlohmann::json::array({{{"containerPort", port}}})},
                 {"livenessProbe", {{"httpGet", {{"path", "/healthz"}, {"port", port}}}}}}})}};
}

inline nlohmann::json namespace_object(const std::string& name,
                                       nlohmann::json labels = nlohmann::json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "Namespace"},
          {"metadata", {{"name", name}, {"resourceVersion", "1"}, {"labels", labels}}}};
}

inline nlohmann::json injector_object(const std::string& values,
                                      const std::string& resource_version = "5") {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata",
           {{"namespace", "istio-system"},
            {"name", "istio-sidecar-injector"},
            {"resourceVersion", resource_version}}},
          {"data", {{"values", values}}}};
}

inline nlohmann::json policy_object(const std::string& namespace_name, const std::string& name,
                                    nlohmann::json spec,
                                    const std::string& created = "2026-01-01T00:00:00Z") {
  return {{"apiVersion", "meshprobe.io/v1alpha1"},
          {"kind", "HealthProbePolicy"},
          {"metadata",
           {{"namespace", namespace_name},
            {"name", name},
            {"generation", 1},
            {"resourceVersion", "7"},
            {"creationTimestamp", created}}},
          {"spec", std::move(spec)}};
}

// An API response object carrying only a resourceVersion.
inline nlohmann::json with_version(const std::string& resource_version) {
  return {{"metadata", {{"resourceVersion", resource_version}}}};
}

}  // namespace meshprobe::controller
