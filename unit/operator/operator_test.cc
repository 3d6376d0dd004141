// The event mapping: which changes put which keys on which queue (observed through the
// queues' own metrics, workqueue_adds_total). The informers are the Operator's real ones, fed
// by hand; nothing is started, so no API call is made.
#include "operator/operator.h"

#include "operator/cluster_fixture.h"

namespace meshprobe::controller {
namespace {

using nlohmann::json;

class OperatorTest : public ::testing::Test {
 protected:
  OperatorOptions options() {
    OperatorOptions options;
    options.workloads.agent = {"agent:1", kTestAgentPort};
    return options;
  }
  double adds(const std::string& queue) {
    return metrics.counter("workqueue_adds_total", "", {"name"}).labels({queue}).value();
  }
  // The adds to each queue while `change` runs: {workloads, policies, injector}.
  // Adds count after deduplication (client-go's meaning): the queues start empty, as a worker
  // would leave them.
  std::array<double, 3> adds_during(const std::function<void()>& change) {
    clock.advance(std::chrono::seconds(2));
    for (kube::WorkQueue* queue : meshprobe_operator.queues()) {
      while (queue->length() > 0) queue->done(*queue->get());
    }
    const std::array<double, 3> before{adds("workloads"), adds("healthprobepolicies"),
                                       adds("injector")};
    change();
    clock.advance(std::chrono::seconds(2));  // the policy queue's gathering delay
    return {adds("workloads") - before[0], adds("healthprobepolicies") - before[1],
            adds("injector") - before[2]};
  }

  ::testing::StrictMock<kube::MockKubernetesApi> api;
  ::testing::StrictMock<kube::MockKubernetesApi> events_api;
  kube::FakeClock clock;
  ::testing::NiceMock<kube::MockRandom> random;
  kube::MetricsRegistry metrics;
  kube::RecordingLogger logger;
  Operator meshprobe_operator{api, events_api, options(), clock, random, metrics, logger};
  const ClusterCache& cache = meshprobe_operator.cache();
  WorkloadInformer& deployments() { return cache.workloads.of(workload_kinds().front()); }

  void SetUp() override {
    put(deployments(), deployment_object("shop", "web", "1", http_liveness_pod_spec()));
    put(deployments(), deployment_object("shop", "api", "1", http_liveness_pod_spec()));
    put(deployments(), deployment_object("bank", "ledger", "1", http_liveness_pod_spec()));
    put(cache.policies, policy_object("shop", "shop-policy", {{"mode", "Always"}}));
  }
};

TEST_F(OperatorTest, ADeploymentEnqueuesItselfAndThePoliciesThatMayCountIt) {
  auto added = adds_during(
      [&] { put(deployments(), deployment_object("shop", "web", "2", http_liveness_pod_spec())); });
  EXPECT_EQ(added[0], 1);
  EXPECT_EQ(added[1], 1);  // shop-policy (after a short delay that gathers changes)
  EXPECT_EQ(added[2], 0);
}

TEST_F(OperatorTest, ANamespaceEnqueuesItsDeployments) {
  auto added = adds_during([&] {
    put(cache.namespaces, namespace_object("shop", {{"istio-injection", "enabled"}}));
  });
  EXPECT_EQ(added[0], 2);
}

TEST_F(OperatorTest, APeerAuthenticationEnqueuesItsNamespaceOrEverythingFromTheRootNamespace) {
  json peer_authentication = {
      {"apiVersion", "security.istio.io/v1"},
      {"kind", "PeerAuthentication"},
      {"metadata", {{"namespace", "bank"}, {"name", "strict"}, {"resourceVersion", "3"}}},
      {"spec", {{"mtls", {{"mode", "STRICT"}}}}}};
  EXPECT_EQ(adds_during([&] { put(cache.peer_authentications, peer_authentication); })[0], 1);
  peer_authentication["metadata"]["namespace"] = "istio-system";
  EXPECT_EQ(adds_during([&] { put(cache.peer_authentications, peer_authentication); })[0], 3);
}

TEST_F(OperatorTest, AnAuthorizationPolicyEnqueuesItsNamespaceOrEverythingFromTheRootNamespace) {
  json authorization_policy = {
      {"apiVersion", "security.istio.io/v1"},
      {"kind", "AuthorizationPolicy"},
      {"metadata", {{"namespace", "shop"}, {"name", "deny-all"}, {"resourceVersion", "3"}}},
      {"spec", json::object()}};
  EXPECT_EQ(adds_during([&] { put(cache.authorization_policies, authorization_policy); })[0], 2);
  authorization_policy["metadata"]["namespace"] = "istio-system";
  EXPECT_EQ(adds_during([&] { put(cache.authorization_policies, authorization_policy); })[0], 3);
  // An invalid one is logged, and still re-converges its namespace (it may have been valid).
  authorization_policy["metadata"]["namespace"] = "bank";
  authorization_policy["spec"] = {{"action", "MAYBE"}};
  EXPECT_EQ(adds_during([&] { put(cache.authorization_policies, authorization_policy); })[0], 1);
  EXPECT_THAT(logger.lines(), ::testing::Contains(::testing::HasSubstr(
                                  "ignoring AuthorizationPolicy bank/deny-all: spec.action")));
}

TEST_F(OperatorTest, ARevisionsConfigMapEnqueuesTheDeploymentsOfThatRevision) {
  put(cache.namespaces, namespace_object("bank", {{"istio.io/rev", "canary"}}));
  json web = deployment_object("shop", "web", "2", http_liveness_pod_spec());
  web["spec"]["template"]["metadata"]["labels"]["istio.io/rev"] = "canary";
  put(deployments(), web);
  const json config_map = {
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata",
       {{"namespace", "istio-system"},
        {"name", "istio-sidecar-injector-canary"},
        {"resourceVersion", "9"},
        {"labels", {{"istio.io/rev", "canary"}}}}},
      {"data", {{"values", R"({"sidecarInjectorWebhook": {"rewriteAppHTTPProbe": false}})"}}}};
  auto added = adds_during([&] { put(cache.revision_injectors, config_map); });
  EXPECT_EQ(added[0], 2);  // bank/ledger (its namespace) and shop/web (its template)
  EXPECT_EQ(added[2], 0);  // the controller manages the default revision's toggle only
  EXPECT_EQ(cache.revision_toggles(),
            (std::map<std::string, bool, std::less<>>{{"canary", false}}));
}

TEST_F(
    OperatorTest,
    APolicyEnqueuesItsNamespaceAndItsNeighboursAndFromTheRootNamespaceEverythingAndTheConfigMap) {
  auto added = adds_during([&] {
    put(cache.policies, policy_object("shop", "second", {{"mode", "Never"}}));
  });
  EXPECT_EQ(added[0], 2);
  EXPECT_EQ(added[1], 2);  // both policies of shop: one may supersede the other
  EXPECT_EQ(added[2], 0);
  added = adds_during([&] {
    put(cache.policies, policy_object("istio-system", "mesh", {{"mode", "Never"}}));
  });
  EXPECT_EQ(added[0], 3);
  EXPECT_EQ(added[2], 1);
}

TEST_F(OperatorTest, TheConfigMapEnqueuesEveryDeploymentAndItself) {
  auto added = adds_during([&] { put(cache.injector, injector_object("{}")); });
  EXPECT_EQ(added[0], 3);
  EXPECT_EQ(added[2], 1);
}

// Workloads of excluded namespaces are never touched, so the API server leaves them out: every
// kind's list asks without them (the namespaces themselves are still listed: their labels).
TEST_F(OperatorTest, TheApiServerLeavesWorkloadsOfExcludedNamespacesOut) {
  using ::testing::Field;
  using ::testing::Return;
  OperatorOptions excluding = options();
  excluding.workloads.excluded_namespaces = {"kube-system", "ci-runners"};
  Operator operator_excluding{api, events_api, excluding, clock, random, metrics, logger};

  int kinds = 0;
  for (const auto& kind : workload_kinds()) {
    if (kind.needs_discovery) continue;  // the same options; discovery is tested on its own
    EXPECT_CALL(api, list(Field(&kube::ResourceType::plural, kind.resource.plural), "",
                          Field(&kube::ListOptions::field_selector,
                                "metadata.namespace!=ci-runners,metadata.namespace!=kube-system")))
        .WillOnce(Return(kube::ApiResult<kube::ObjectList>(
            kube::api_error(kube::ApiErrorKind::kServerError, 500))));
    std::stop_source stop;
    operator_excluding.cache().workloads.of(kind).reflector().list_and_watch(stop.get_token());
    ++kinds;
  }
  EXPECT_GE(kinds, 4);  // Deployments, StatefulSets, DaemonSets, CronJobs
}

}  // namespace
}  // namespace meshprobe::controller
