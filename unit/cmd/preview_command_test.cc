// `meshprobe preview` against a mocked KubernetesApi (the seam under the REST client): what it
// prints for the cluster the API describes, the "what if" options, the one-line errors, and
// that it only ever gets and lists (every write or watch fails the test).
#include "cmd/preview_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "kube/mocks/mock_kubernetes_api.h"
#include "operator/cluster_fixture.h"

namespace meshprobe::cmd {
namespace {

using controller::deployment_object;
using controller::http_liveness_pod_spec;
using controller::injector_object;
using controller::namespace_object;
using controller::policy_object;
using nlohmann::json;
using ::testing::_;
using ::testing::AnyNumber;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Return;

kube::ApiError preview_api_error(kube::ApiErrorKind kind, int status, std::string detail = "") {
  kube::ApiError error;
  error.kind = kind;
  error.http_status = status;
  error.detail = std::move(detail);
  error.request = "GET /test";
  return error;
}

kube::ObjectList items(std::vector<json> objects) { return {"100", "", std::move(objects)}; }

// The API group documents discovery reads (kube::discover_resource).
json group(const std::string& version) {
  return {{"versions", json::array({{{"version", version}}})}};
}
json resources(const std::string& plural, const std::string& kind) {
  return {{"resources", json::array({{{"name", plural}, {"kind", kind}, {"namespaced", true}}})}};
}

MATCHER_P(IsResource, plural, "") { return arg.plural == plural; }

class PreviewCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Read-only: any write or watch is a failure.
    EXPECT_CALL(api, create(_, _, _, _)).Times(0);
    EXPECT_CALL(api, update(_, _, _, _)).Times(0);
    EXPECT_CALL(api, patch(_, _, _, _, _, _)).Times(0);
    EXPECT_CALL(api, remove(_, _, _, _)).Times(0);
    EXPECT_CALL(api, watch(_, _, _)).Times(0);
    ON_CALL(api, get_path("/apis/meshprobe.io")).WillByDefault(Return(group("v1alpha1")));
    ON_CALL(api, get_path("/apis/meshprobe.io/v1alpha1"))
        .WillByDefault(Return(resources("healthprobepolicies", "HealthProbePolicy")));
    ON_CALL(api, get_path("/apis/security.istio.io"))
        .WillByDefault(Return(preview_api_error(kube::ApiErrorKind::kNotFound, 404)));
    EXPECT_CALL(api, get_path(_)).Times(AnyNumber());
    ON_CALL(api, list(IsResource("namespaces"), _, _))
        .WillByDefault(Return(items({namespace_object("shop", {{"istio-injection", "enabled"}}),
                                     namespace_object("istio-system")})));
    ON_CALL(api, list(IsResource("deployments"), _, _))
        .WillByDefault(
            Return(items({deployment_object("shop", "web", "10", http_liveness_pod_spec())})));
    ON_CALL(api, list(IsResource("healthprobepolicies"), _, _)).WillByDefault(Return(items({})));
    EXPECT_CALL(api, list(_, _, _)).Times(AnyNumber());
    // No injector ConfigMap and no installed controller config: the defaults.
    ON_CALL(api, get(IsResource("configmaps"), _, _, _))
        .WillByDefault(Return(preview_api_error(kube::ApiErrorKind::kNotFound, 404)));
    EXPECT_CALL(api, get(_, _, _, _)).Times(AnyNumber());
  }

  int run(const CommandArguments& arguments) {
    auto parsed = parse_preview_command_line(arguments);
    EXPECT_TRUE(parsed) << (parsed ? "" : parsed.error().message);
    if (!parsed) return -1;
    CommandStreams streams{in, out, err};
    return run_preview_against(api, *parsed, streams);
  }

  std::string write_file(const std::string& name, const std::string& text) {
    const auto path = std::filesystem::temp_directory_path() /
                      (std::string("meshprobe-preview-test-") + std::to_string(::getpid()) + name);
    std::ofstream(path) << text;
    files.push_back(path);
    return path.string();
  }
  void TearDown() override {
    for (const auto& file : files) std::filesystem::remove(file);
  }

  ::testing::NiceMock<kube::MockKubernetesApi> api;
  std::istringstream in;
  std::ostringstream out, err;
  std::vector<std::filesystem::path> files;
};

TEST_F(PreviewCommandTest, ATableOfEveryWorkloadWithItsActionReasonAndEachProbeBeforeAndAfter) {
  EXPECT_EQ(run({}), kExitOk) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("NAMESPACE"));
  EXPECT_THAT(out.str(), HasSubstr("Deployment/web"));
  EXPECT_THAT(out.str(), HasSubstr("rewrite"));
  EXPECT_THAT(out.str(), HasSubstr("Rewritten"));
  EXPECT_THAT(
      out.str(),
      HasSubstr("web liveness: httpGet :8080/healthz → httpGet :15120/app-health/web/livez"));
  EXPECT_THAT(err.str(), HasSubstr("used the controller's defaults"));
}

TEST_F(PreviewCommandTest, JsonForScripts) {
  EXPECT_EQ(run({"-o", "json"}), kExitOk) << err.str();
  const json document = json::parse(out.str());
  ASSERT_EQ(document["workloads"].size(), 1u);
  const json& web = document["workloads"][0];
  EXPECT_EQ(web["kind"], "Deployment");
  EXPECT_EQ(web["namespace"], "shop");
  EXPECT_EQ(web["action"], "rewrite");
  EXPECT_EQ(web["reason"], "Rewritten");
  EXPECT_EQ(web["probes"][0]["after"], "httpGet :15120/app-health/web/livez");
}

TEST_F(PreviewCommandTest, YamlForScripts) {
  EXPECT_EQ(run({"-o", "yaml"}), kExitOk) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("workloads:"));
  EXPECT_THAT(out.str(), HasSubstr("action: rewrite"));
}

TEST_F(PreviewCommandTest, TheToggleOffLeavesAnUnrewrittenDeploymentAlone) {
  EXPECT_EQ(run({"--toggle", "off", "-o", "json"}), kExitOk) << err.str();
  const json web = json::parse(out.str())["workloads"][0];
  EXPECT_EQ(web["action"], "none");
  EXPECT_EQ(web["reason"], "DisabledGlobally");
}

TEST_F(PreviewCommandTest, TheToggleOffRestoresWhatTheInstalledToggleHadRewritten) {
  // First what the controller would write, then that template as the cluster's.
  EXPECT_EQ(run({"-o", "json"}), kExitOk);
  ON_CALL(api, get(IsResource("configmaps"), "istio-system", "istio-sidecar-injector", _))
      .WillByDefault(Return(injector_object(
          "{\n  \"sidecarInjectorWebhook\": {\n    \"rewriteAppHTTPProbe\": true\n  }\n}")));
  out.str("");
  EXPECT_EQ(run({"--toggle", "on", "-o", "json"}), kExitOk);
  EXPECT_EQ(json::parse(out.str())["workloads"][0]["reason"], "Rewritten");
  out.str("");
  EXPECT_EQ(run({"--toggle", "off", "-o", "json"}), kExitOk);
  EXPECT_EQ(json::parse(out.str())["workloads"][0]["reason"], "DisabledGlobally");
}

TEST_F(PreviewCommandTest, APolicyFileIsEvaluatedAsIfApplied) {
  const std::string policy = write_file("never.yaml", R"(apiVersion: meshprobe.io/v1alpha1
kind: HealthProbePolicy
metadata: {name: no-rewrite, namespace: shop}
spec: {mode: Never}
)");
  EXPECT_EQ(run({"--policy", policy, "-o", "json"}), kExitOk) << err.str();
  const json web = json::parse(out.str())["workloads"][0];
  // The policy's Never holds at the Pod: Istio's own rewrite is held off too.
  EXPECT_EQ(web["action"], "hold");
  EXPECT_EQ(web["reason"], "DisabledByPolicy");
  EXPECT_THAT(web["message"].get<std::string>(), HasSubstr("shop/no-rewrite"));
}

TEST_F(PreviewCommandTest, APolicyFileReplacesTheAppliedOneOfTheSameName) {
  ON_CALL(api, list(IsResource("healthprobepolicies"), _, _))
      .WillByDefault(Return(items({policy_object("shop", "web-policy", {{"mode", "Never"}})})));
  EXPECT_EQ(run({"-o", "json"}), kExitOk);
  EXPECT_EQ(json::parse(out.str())["workloads"][0]["reason"], "DisabledByPolicy");
  out.str("");
  const std::string policy = write_file("always.yaml", R"(apiVersion: meshprobe.io/v1alpha1
kind: HealthProbePolicy
metadata: {name: web-policy, namespace: shop}
spec: {mode: Always}
)");
  EXPECT_EQ(run({"--policy", policy, "-o", "json"}), kExitOk) << err.str();
  EXPECT_EQ(json::parse(out.str())["workloads"][0]["reason"], "Rewritten");
}

TEST_F(PreviewCommandTest, AnInvalidPolicyFileIsOneClearLine) {
  const std::string policy = write_file("bad.yaml", R"(apiVersion: meshprobe.io/v1alpha1
kind: HealthProbePolicy
metadata: {name: bad, namespace: shop}
spec: {mode: Sometimes}
)");
  EXPECT_EQ(run({"--policy", policy}), kExitFailure);
  EXPECT_THAT(err.str(), HasSubstr("meshprobe preview: --policy"));
  EXPECT_THAT(err.str(), HasSubstr("Sometimes"));
  EXPECT_EQ(out.str(), "");
  EXPECT_EQ(run({"--policy", "/nonexistent/policy.yaml"}), kExitFailure);
  EXPECT_THAT(err.str(), HasSubstr("cannot read /nonexistent/policy.yaml"));
}

TEST_F(PreviewCommandTest, NamespaceAndSelectorNarrowTheLists) {
  EXPECT_CALL(api, get(IsResource("namespaces"), "", "shop", _))
      .WillOnce(Return(namespace_object("shop", {{"istio-injection", "enabled"}})));
  EXPECT_CALL(api, list(IsResource("namespaces"), _, _)).Times(0);
  EXPECT_CALL(api, list(IsResource("deployments"), "shop",
                        Field(&kube::ListOptions::label_selector, "app=web")))
      .WillOnce(Return(items({deployment_object("shop", "web", "10", http_liveness_pod_spec())})));
  EXPECT_CALL(api, list(IsResource("healthprobepolicies"), "shop", _)).WillOnce(Return(items({})));
  EXPECT_CALL(api, list(IsResource("healthprobepolicies"), "istio-system", _))
      .WillOnce(Return(items({})));
  EXPECT_EQ(run({"-n", "shop", "-l", "app=web", "-o", "json"}), kExitOk) << err.str();
  EXPECT_EQ(json::parse(out.str())["workloads"].size(), 1u);
}

TEST_F(PreviewCommandTest, AnUnknownNamespaceIsOneClearLine) {
  EXPECT_CALL(api, get(IsResource("namespaces"), "", "nope", _))
      .WillOnce(Return(preview_api_error(kube::ApiErrorKind::kNotFound, 404)));
  EXPECT_EQ(run({"-n", "nope"}), kExitFailure);
  EXPECT_EQ(err.str(), "meshprobe preview: namespace \"nope\" not found\n")
      << "one line: no note about the controller's defaults before it";
  EXPECT_EQ(out.str(), "");
}

TEST_F(PreviewCommandTest, ForbiddenNamesTheClusterRole) {
  ON_CALL(api, list(IsResource("deployments"), _, _))
      .WillByDefault(
          Return(preview_api_error(kube::ApiErrorKind::kForbidden, 403,
                                   "deployments.apps is forbidden: User \"alice\" cannot list")));
  EXPECT_EQ(run({}), kExitFailure);
  EXPECT_THAT(err.str(), HasSubstr("meshprobe preview: forbidden to read deployments in every "
                                   "namespace (deployments.apps is forbidden"));
  EXPECT_THAT(err.str(), HasSubstr("ClusterRole meshprobe-preview"));
  EXPECT_EQ(out.str(), "");
}

TEST_F(PreviewCommandTest, AnUnreachableApiServerIsOneClearLine) {
  ON_CALL(api, get(_, _, _, _))
      .WillByDefault(
          Return(preview_api_error(kube::ApiErrorKind::kTransport, 0, "connection refused")));
  ON_CALL(api, list(_, _, _))
      .WillByDefault(
          Return(preview_api_error(kube::ApiErrorKind::kTransport, 0, "connection refused")));
  EXPECT_EQ(run({}), kExitFailure);
  EXPECT_THAT(err.str(), HasSubstr("meshprobe preview: cannot reach the API server"));
  const std::string errors = err.str();
  EXPECT_EQ(std::count(errors.begin(), errors.end(), '\n'), 1) << errors;
}

TEST_F(PreviewCommandTest, TheInstalledControllerConfigDecidesTheAgentPort) {
  json config_map = {
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata", {{"namespace", "meshprobe-system"}, {"name", "meshprobe-controller-config"}}},
      {"data", {{"config.yaml", "agentPort: 15200\n"}}}};
  EXPECT_CALL(api,
              get(IsResource("configmaps"), "meshprobe-system", "meshprobe-controller-config", _))
      .WillOnce(Return(config_map));
  EXPECT_EQ(run({}), kExitOk) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("→ httpGet :15200/app-health/web/livez"));
  EXPECT_THAT(err.str(), Not(HasSubstr("defaults")));
}

TEST_F(PreviewCommandTest, ExcludedNamespacesAreSkipped) {
  ON_CALL(api, list(IsResource("deployments"), _, _))
      .WillByDefault(
          Return(items({deployment_object("kube-system", "dns", "3", http_liveness_pod_spec())})));
  EXPECT_EQ(run({"-o", "json"}), kExitOk) << err.str();
  const json dns = json::parse(out.str())["workloads"][0];
  EXPECT_EQ(dns["action"], "skip");
  EXPECT_THAT(dns["message"].get<std::string>(), HasSubstr("excluded"));
}

TEST(PreviewCommandLine, WrongOptionsAreUsageErrors) {
  EXPECT_FALSE(parse_preview_command_line({"--toggle", "maybe"}));
  EXPECT_FALSE(parse_preview_command_line({"-o", "xml"}));
  EXPECT_FALSE(parse_preview_command_line({"--nonsense"}));
  auto help = parse_preview_command_line({"--help"});
  ASSERT_TRUE(help);
  EXPECT_THAT(help->help_text, HasSubstr("kubectl meshprobe preview"));
}

}  // namespace
}  // namespace meshprobe::cmd
