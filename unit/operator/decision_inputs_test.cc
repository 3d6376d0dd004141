// DecisionInputs: what the decision of one workload reads from the caches.
#include "operator/decision_inputs.h"

#include "operator/cluster_fixture.h"

namespace meshprobe::controller {
namespace {

using nlohmann::json;

class DecisionInputsTest : public ClusterFixture {
 protected:
  json authorization_policy(const std::string& namespace_name, const std::string& name) {
    return {{"apiVersion", "security.istio.io/v1beta1"},
            {"kind", "AuthorizationPolicy"},
            {"metadata", {{"namespace", namespace_name}, {"name", name}, {"resourceVersion", "4"}}},
            {"spec", json::object()}};
  }
  json revision_config_map(const std::string& revision, const std::string& values) {
    return {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata",
             {{"namespace", "istio-system"},
              {"name", "istio-sidecar-injector-" + revision},
              {"resourceVersion", "8"}}},
            {"data", {{"values", values}}}};
  }
  const DecisionSettings settings{"istio-system", true};
  const json workload_metadata = json::object();
};

TEST_F(DecisionInputsTest, GathersNamespaceRootAndRevisionState) {
  put(*namespaces, namespace_object("shop", {{"istio.io/rev", "canary"}}));
  put(*authorization_policies, authorization_policy("shop", "local"));
  put(*authorization_policies, authorization_policy("istio-system", "mesh"));
  put(*authorization_policies, authorization_policy("bank", "elsewhere"));
  put(*injector, injector_object(R"({"sidecarInjectorWebhook": {"rewriteAppHTTPProbe": true}})"));
  put(*revision_injectors,
      revision_config_map("canary",
                          R"({"sidecarInjectorWebhook": {"rewriteAppHTTPProbe": false}})"));
  put(*revision_injectors, revision_config_map("broken", "not json"));
  const json pod_template = {{"metadata", {{"labels", {{"app", "web"}}}}},
                             {"spec", http_liveness_pod_spec()}};
  const DecisionInputs inputs(cache, settings, "Deployment", "shop", workload_metadata,
                              pod_template);
  const probe::DecisionInput& input = inputs.input();
  EXPECT_EQ(input.namespace_labels, (probe::Labels{{"istio.io/rev", "canary"}}));
  ASSERT_EQ(input.authorization_policies.size(), 2u);
  EXPECT_TRUE(input.rewrite_globally);
  EXPECT_EQ(input.revision_rewrite, (std::map<std::string, bool, std::less<>>{{"canary", false}}));
  EXPECT_EQ(input.pod_template, &pod_template);

  // The decision follows the revision's toggle, not the default one.
  const probe::Decision decision = probe::decide(input);
  EXPECT_FALSE(decision.rewrite);
  EXPECT_EQ(decision.mesh.revision, "canary");
}

TEST_F(DecisionInputsTest, WithoutTheConfigMapTheConfiguredDefaultApplies) {
  put(*namespaces, namespace_object("shop", {{"istio-injection", "enabled"}}));
  const json pod_template = {{"spec", http_liveness_pod_spec()}};
  const DecisionInputs inputs(cache, {"istio-system", false}, "Deployment", "shop",
                              workload_metadata, pod_template);
  EXPECT_FALSE(inputs.input().rewrite_globally);
  EXPECT_TRUE(inputs.input().revision_rewrite.empty());
}

}  // namespace
}  // namespace meshprobe::controller
