#include "operator/cluster_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "operator/cluster_fixture.h"

namespace meshprobe::controller {
namespace {

using nlohmann::json;

const WorkloadKind& kDeployment = workload_kinds().front();

TEST(SummarizeManagedFieldsTest, KeepsOtherManagersTemplateAndProbeOwnership) {
  const json managed = json::parse(R"([
    {"manager": "meshprobe", "operation": "Update", "time": "2026-01-01T00:00:03Z",
     "fieldsV1": {"f:spec": {"f:template": {}}}},
    {"manager": "meshprobe", "operation": "Apply", "subresource": "status", "time": "2026-01-01T00:00:03Z",
     "fieldsV1": {"f:status": {}}},
    {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
     "time": "2026-01-01T00:00:02Z", "fieldsV1": {"f:status": {}}},
    {"manager": "argocd-controller", "operation": "Apply", "time": "2026-01-01T00:00:01Z",
     "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:initContainers": {"k:{\"name\":\"setup\"}": {"f:startupProbe": {}}}}}}}},
    {"manager": "kubectl-set", "operation": "Update", "time": "2026-01-01T00:00:04Z",
     "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {"f:image": {}}}}}}}},
    {"manager": "kubectl-scale", "operation": "Update", "time": "2026-01-01T00:00:05Z",
     "fieldsV1": {"f:spec": {"f:replicas": {}}}}
  ])");
  EXPECT_EQ(summarize_managed_fields(managed, {"spec", "template"}),
            (std::vector<ManagerSummary>{{"argocd-controller", "2026-01-01T00:00:01Z", true, true},
                                         {"kubectl-set", "2026-01-01T00:00:04Z", true, false}}));
  EXPECT_TRUE(summarize_managed_fields(json(), {"spec", "template"}).empty());
  EXPECT_TRUE(
      summarize_managed_fields(json::array({"not an object", 3}), {"spec", "template"}).empty());
}

TEST(ProjectDeploymentTest, KeepsWhatReconcilingReads) {
  json object = deployment_object("shop", "web", "4", http_liveness_pod_spec());
  object["metadata"]["generation"] = 7;
  object["metadata"]["annotations"] = {{"sidecar.istio.io/rewriteAppHTTPProbers", "false"},
                                       {"other", "x"}};
  object["status"]["conditions"] =
      json::array({{{"type", "Available"}, {"status", "True"}},
                   {{"type", "HealthProbesRewritten"}, {"status", "True"}}});
  const WorkloadState state = project_workload(object, kDeployment, kTestAgentPort);
  EXPECT_EQ(state.uid, "uid-web");
  EXPECT_EQ(state.generation, 7);
  EXPECT_EQ(state.workload_rewrite_annotation, "false");
  EXPECT_EQ(state.workload_metadata(),
            (json{{"annotations", {{"sidecar.istio.io/rewriteAppHTTPProbers", "false"}}}}));
  EXPECT_EQ(state.template_labels, (probe::Labels{{"app", "web"}}));
  EXPECT_EQ(state.pod_template.decode(), object["spec"]["template"]);
  EXPECT_FALSE(state.rewritten);
  EXPECT_EQ(state.condition.decode(),
            (json{{"type", "HealthProbesRewritten"}, {"status", "True"}}));

  object["spec"]["template"] =
      probe::rewrite(object["spec"]["template"], {"agent:1", kTestAgentPort})->pod_template;
  EXPECT_TRUE(project_workload(object, kDeployment, kTestAgentPort).rewritten);
}

TEST(ProjectDeploymentTest, AMalformedObjectGivesAnEmptyState) {
  const WorkloadState state = project_workload(json{{"spec", 3}}, kDeployment, kTestAgentPort);
  EXPECT_EQ(state.pod_template.decode(), json::object());
  EXPECT_TRUE(state.condition.decode().is_null());
  EXPECT_FALSE(state.has_template);
}

TEST(ProjectPolicyTest, KeepsTheParsedSpecOrTheProblem) {
  const PolicyState valid = project_policy(policy_object("shop", "p", {{"mode", "Never"}}));
  ASSERT_TRUE(valid.policy.has_value());
  EXPECT_EQ(valid.policy->mode, probe::PolicyMode::kNever);
  EXPECT_EQ(valid.generation, 1);
  const PolicyState invalid = project_policy(policy_object("shop", "p", {{"mode", "Sometimes"}}));
  EXPECT_FALSE(invalid.policy.has_value());
  EXPECT_THAT(invalid.problem, ::testing::HasSubstr("spec.mode"));
}

TEST(ProjectRevisionInjectorTest, KeepsOnlyRevisionConfigMaps) {
  auto config_map = [](const std::string& name) {
    return json{{"metadata", {{"namespace", "istio-system"}, {"name", name}}},
                {"data", {{"values", "{}"}}}};
  };
  EXPECT_EQ(project_revision_injector(config_map("istio-sidecar-injector-1-27")).revision, "1-27");
  EXPECT_EQ(project_revision_injector(config_map("istio-sidecar-injector-1-27")).values, "{}");
  EXPECT_EQ(project_revision_injector(config_map("istio-sidecar-injector")).revision, "");
  EXPECT_EQ(project_revision_injector(config_map("istio-sidecar-injector-")).revision, "");
  EXPECT_EQ(project_revision_injector(config_map("istio")).revision, "");
}

TEST(ProjectAuthorizationPolicyTest, KeepsTheParsedSpecOrTheProblem) {
  const json valid = {{"metadata", {{"namespace", "shop"}, {"name", "a"}}},
                      {"spec", {{"action", "DENY"}}}};
  EXPECT_EQ(project_authorization_policy(valid).authorization_policy->action,
            probe::AuthorizationAction::kDeny);
  const json invalid = {{"metadata", {{"namespace", "shop"}, {"name", "a"}}},
                        {"spec", {{"rules", "all"}}}};
  EXPECT_FALSE(project_authorization_policy(invalid).authorization_policy);
  EXPECT_EQ(project_authorization_policy(invalid).problem, "spec.rules: must be a list");
}

TEST(ProjectInjectorTest, ReadsTheValuesKey) {
  EXPECT_EQ(project_injector(injector_object("{}")).values, "{}");
  EXPECT_TRUE(project_injector(injector_object("{}")).has_data);
  EXPECT_FALSE(project_injector(json{{"metadata", {{"name", "x"}}}}).has_data);
}

}  // namespace
}  // namespace meshprobe::controller
