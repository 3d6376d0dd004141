#include "operator/injector_reconciler.h"

#include "operator/cluster_fixture.h"

namespace meshprobe::controller {
namespace {

using nlohmann::json;
using ::testing::_;
using ::testing::DoAll;
using ::testing::Return;
using ::testing::SaveArg;

MATCHER_P(IsType, type, "") { return arg == type; }

class InjectorReconcilerTest : public ClusterFixture {
 protected:
  kube::ReconcileResult reconcile() { return reconciler.reconcile(reconciler.key()); }
  InjectorReconciler reconciler{
      cache, api, metrics, logger, "istio-system", /*default_rewrite=*/true};
};

TEST_F(InjectorReconcilerTest, CreatesAMissingConfigMapWithTheDefaultAsIstiosChartWritesIt) {
  json created;
  kube::WriteOptions options;
  EXPECT_CALL(api, create(IsType(kube::resources::kConfigMaps), "istio-system", _, _))
      .WillOnce(DoAll(SaveArg<2>(&created), SaveArg<3>(&options), Return(json::object())));
  EXPECT_EQ(reconcile().kind, kube::ReconcileResult::Kind::kDone);
  EXPECT_EQ(created["metadata"]["name"], "istio-sidecar-injector");
  EXPECT_NE(created["data"]["values"].get<std::string>().find("\"rewriteAppHTTPProbe\": true"),
            std::string::npos);
  EXPECT_EQ(options.field_manager, "meshprobe");
}

TEST_F(InjectorReconcilerTest, AUsersValueIsNeverReverted) {
  put(*injector, injector_object(R"({"sidecarInjectorWebhook": {"rewriteAppHTTPProbe": false}})"));
  EXPECT_EQ(reconcile().kind, kube::ReconcileResult::Kind::kDone);  // StrictMock: no call
}

TEST_F(InjectorReconcilerTest, FillsInTheFieldWithAGuardedPatchKeepingEverythingElse) {
  json object = injector_object(R"({"global": {"hub": "docker.io/istio"}})", "9");
  object["data"]["config"] = "policy: enabled";
  put(*injector, object);
  std::string body;
  EXPECT_CALL(api, patch(IsType(kube::resources::kConfigMaps), "istio-system",
                         "istio-sidecar-injector", kube::PatchType::kJson, _, _))
      .WillOnce(DoAll(SaveArg<4>(&body), Return(json::object())));
  EXPECT_EQ(reconcile().kind, kube::ReconcileResult::Kind::kDone);
  const json patch = json::parse(body);
  EXPECT_EQ(patch[0],
            (json{{"op", "replace"}, {"path", "/metadata/resourceVersion"}, {"value", "9"}}));
  const json after = object.patch(patch);
  EXPECT_EQ(after["data"]["config"], "policy: enabled");
  const json values = json::parse(after["data"]["values"].get<std::string>());
  EXPECT_EQ(values["global"]["hub"], "docker.io/istio");
  EXPECT_EQ(values["sidecarInjectorWebhook"]["rewriteAppHTTPProbe"], true);
}

TEST_F(InjectorReconcilerTest, AConfigMapWithoutDataGetsDataWithTheValues) {
  json object = injector_object("");
  object.erase("data");
  put(*injector, object);
  std::string body;
  EXPECT_CALL(api, patch(_, "istio-system", "istio-sidecar-injector", kube::PatchType::kJson, _, _))
      .WillOnce(DoAll(SaveArg<4>(&body), Return(json::object())));
  EXPECT_EQ(reconcile().kind, kube::ReconcileResult::Kind::kDone);
  EXPECT_TRUE(object.patch(json::parse(body))["data"].contains("values"));
}

TEST_F(InjectorReconcilerTest, AMeshWidePolicyWritesItsValue) {
  put(*injector, injector_object(R"({"sidecarInjectorWebhook": {"rewriteAppHTTPProbe": true}})"));
  put(*policies, policy_object("istio-system", "mesh", {{"mode", "Never"}}));
  std::string body;
  EXPECT_CALL(api, patch(_, "istio-system", "istio-sidecar-injector", kube::PatchType::kJson, _, _))
      .WillOnce(DoAll(SaveArg<4>(&body), Return(json::object())));
  EXPECT_EQ(reconcile().kind, kube::ReconcileResult::Kind::kDone);
  EXPECT_NE(body.find(R"(\"rewriteAppHTTPProbe\": false)"), std::string::npos) << body;
}

TEST_F(InjectorReconcilerTest, AConflictIsRetried) {
  put(*injector, injector_object("{}"));
  EXPECT_CALL(api, patch(_, "istio-system", "istio-sidecar-injector", kube::PatchType::kJson, _, _))
      .WillOnce(Return(kube::api_error(kube::ApiErrorKind::kConflict, 409)));
  EXPECT_EQ(reconcile().kind, kube::ReconcileResult::Kind::kRetry);
}

TEST(MeshWideToggleTest, OnlyAPolicyWithoutSelectorInTheRootNamespace) {
  auto policy = [](std::string namespace_name, probe::PolicyMode mode, bool selector) {
    probe::HealthProbePolicy out;
    out.namespace_name = std::move(namespace_name);
    out.name = "p";
    out.mode = mode;
    if (selector) out.selector = probe::LabelSelector{{{"app", "web"}}, {}};
    return out;
  };
  const std::vector<probe::HealthProbePolicy> none;
  EXPECT_EQ(mesh_wide_toggle(none, "istio-system"), std::nullopt);
  const std::vector<probe::HealthProbePolicy> namespaced{
      policy("shop", probe::PolicyMode::kNever, false)};
  EXPECT_EQ(mesh_wide_toggle(namespaced, "istio-system"), std::nullopt);
  const std::vector<probe::HealthProbePolicy> selected{
      policy("istio-system", probe::PolicyMode::kNever, true)};
  EXPECT_EQ(mesh_wide_toggle(selected, "istio-system"), std::nullopt);
  const std::vector<probe::HealthProbePolicy> never{
      policy("istio-system", probe::PolicyMode::kNever, false)};
  EXPECT_EQ(mesh_wide_toggle(never, "istio-system"), false);
  const std::vector<probe::HealthProbePolicy> when_required{
      policy("istio-system", probe::PolicyMode::kWhenRequired, false)};
  EXPECT_EQ(mesh_wide_toggle(when_required, "istio-system"), true);
}

}  // namespace
}  // namespace meshprobe::controller
