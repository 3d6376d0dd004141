#include "operator/deployment_reconciler.h"

#include "operator/cluster_fixture.h"
#include "operator/conditions.h"
#include "probe/istio_hold.h"

namespace meshprobe::controller {
namespace {

using nlohmann::json;
using ::testing::_;
using ::testing::DoAll;
using ::testing::Field;
using ::testing::Return;
using ::testing::SaveArg;

MATCHER_P(IsType, type, "") { return arg == type; }

const std::string kKey = "shop/web";

// managedFields of a manager that owns the liveness probe of container web, written at `time`.
json probe_owner(const std::string& manager, const std::string& time) {
  return {{"manager", manager},
          {"operation", "Apply"},
          {"time", time},
          {"fieldsType", "FieldsV1"},
          {"fieldsV1",
           {{"f:spec",
             {{"f:template",
               {{"f:spec",
                 {{"f:containers",
                   {{"k:{\"name\":\"web\"}", {{"f:livenessProbe", json::object()}}}}}}}}}}}}}};
}

class DeploymentReconcilerTest : public ClusterFixture {
 protected:
  void SetUp() override {
    put(*namespaces, namespace_object("shop", {{"istio-injection", "enabled"}}));
  }

  DeploymentReconcilerOptions options() {
    DeploymentReconcilerOptions options;
    options.agent = {"agent:1", kTestAgentPort};
    options.excluded_namespaces = {"kube-system"};
    return options;
  }

  // One successful template write, Event and status write. Returns the object as the server
  // then holds it (the patch applied, our condition in place, resourceVersion `after`).
  json expect_rewrite(const json& object, const std::string& event_reason,
                      const std::string& after) {
    std::string patch_body;
    json event;
    std::string status_body;
    EXPECT_CALL(
        api, patch(IsType(kube::resources::kDeployments), "shop", "web", kube::PatchType::kJson, _,
                   Field(&kube::PatchOptions::field_manager, "meshprobe")))
        .WillOnce(DoAll(SaveArg<4>(&patch_body), Return(with_version("patched"))));
    EXPECT_CALL(api, create(IsType(kEventsV1), "shop", _, _))
        .WillOnce(DoAll(SaveArg<2>(&event), Return(json::object())));
    EXPECT_CALL(
        api, patch(IsType(kube::resources::kDeployments), "shop", "web", kube::PatchType::kApply, _,
                   Field(&kube::PatchOptions::subresource, "status")))
        .WillOnce(DoAll(SaveArg<4>(&status_body), Return(with_version("status-written"))));
    EXPECT_EQ(reconciler.reconcile(kKey).kind, kube::ReconcileResult::Kind::kDone);
    ::testing::Mock::VerifyAndClearExpectations(&api);
    EXPECT_EQ(event.value("reason", ""), event_reason);
    json server = object.patch(json::parse(patch_body));
    server["status"]["conditions"] = json::parse(status_body)["status"]["conditions"];
    server["metadata"]["resourceVersion"] = after;
    return server;
  }

  EventRecorder events{api, clock, "replica-1", metrics, logger};
  RevertTracker reverts{RevertTracker::Options{}};
  DeploymentReconciler reconciler{cache, api, events, reverts, clock, metrics, logger, options()};
};

TEST_F(DeploymentReconcilerTest, RewritesWithOneGuardedPatchOfTheTemplateAStatusApplyAndAnEvent) {
  const json original = deployment_object("shop", "web", "10", http_liveness_pod_spec());
  put(*deployments, original);
  std::string patch_body;
  std::string status_body;
  json event;
  kube::PatchOptions status_options;
  EXPECT_CALL(api,
              patch(IsType(kube::resources::kDeployments), "shop", "web", kube::PatchType::kJson, _,
                    Field(&kube::PatchOptions::field_manager, "meshprobe")))
      .WillOnce(DoAll(SaveArg<4>(&patch_body), Return(with_version("11"))));
  EXPECT_CALL(api, create(IsType(kEventsV1), "shop", _, _))
      .WillOnce(DoAll(SaveArg<2>(&event), Return(json::object())));
  EXPECT_CALL(api, patch(IsType(kube::resources::kDeployments), "shop", "web",
                         kube::PatchType::kApply, _, _))
      .WillOnce(
          DoAll(SaveArg<4>(&status_body), SaveArg<5>(&status_options), Return(with_version("12"))));

  EXPECT_EQ(reconciler.reconcile(kKey).kind, kube::ReconcileResult::Kind::kDone);

  const json patch = json::parse(patch_body);
  EXPECT_EQ(patch[0],
            (json{{"op", "replace"}, {"path", "/metadata/resourceVersion"}, {"value", "10"}}));
  for (std::size_t i = 1; i < patch.size(); ++i) {
    EXPECT_TRUE(patch[i]["path"].get<std::string>().starts_with("/spec/template/")) << patch[i];
  }
  auto expected = probe::rewrite(original["spec"]["template"], {"agent:1", kTestAgentPort});
  ASSERT_TRUE(expected.ok());
  // In an injection-labelled namespace, Istio's per-pod rewrite is held off too.
  probe::hold_istio_rewrite(expected->pod_template);
  EXPECT_EQ(original.patch(patch)["spec"]["template"], expected->pod_template);
  EXPECT_EQ(original.patch(patch)["spec"]["template"]["metadata"]["annotations"]
                                 ["sidecar.istio.io/rewriteAppHTTPProbers"],
            "false");

  const json status = json::parse(status_body);
  EXPECT_EQ(status["metadata"], (json{{"namespace", "shop"}, {"name", "web"}}));
  ASSERT_EQ(status["status"]["conditions"].size(), 1u);
  const json& condition = status["status"]["conditions"][0];
  EXPECT_EQ(condition["type"], "HealthProbesRewritten");
  EXPECT_EQ(condition["status"], "True");
  EXPECT_EQ(condition["reason"], "Rewritten");
  EXPECT_THAT(condition["message"].get<std::string>(),
              ::testing::HasSubstr("/app-health/web/livez"));
  EXPECT_EQ(status_options.field_manager, "meshprobe");
  EXPECT_TRUE(status_options.force);

  EXPECT_EQ(event["type"], "Normal");
  EXPECT_EQ(event["reason"], "Rewritten");
  EXPECT_EQ(event["reportingController"], "meshprobe.io/controller");
  EXPECT_EQ(event["reportingInstance"], "replica-1");
  EXPECT_EQ(event["regarding"]["uid"], "uid-web");
  EXPECT_EQ(event["regarding"]["kind"], "Deployment");
  EXPECT_THAT(logger.lines(),
              ::testing::Contains(::testing::HasSubstr(
                  "rewrote liveness of shop/web container web: httpGet :8080/healthz → ")));
}

TEST_F(DeploymentReconcilerTest,
       WaitsForTheCacheToCatchUpAndThenNeverWritesAConvergedDeploymentAgain) {
  const json original = deployment_object("shop", "web", "10", http_liveness_pod_spec());
  put(*deployments, original);
  const json converged = expect_rewrite(original, "Rewritten", "12");

  // The cache still shows version 10 (and then 11, our template write): nothing is written.
  const auto held = reconciler.reconcile(kKey);
  EXPECT_EQ(held.kind, kube::ReconcileResult::Kind::kRequeueAfter);
  EXPECT_GT(held.after, kube::Duration::zero());

  put(*deployments, converged);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(reconciler.reconcile(kKey).kind, kube::ReconcileResult::Kind::kDone);
}

TEST_F(DeploymentReconcilerTest, AnExpectationThatIsNeverMetExpires) {
  const json original = deployment_object("shop", "web", "10", http_liveness_pod_spec());
  put(*deployments, original);
  expect_rewrite(original, "Rewritten", "12");
  clock.advance(std::chrono::minutes(2));
  // The cache still shows version 10: after the timeout, the reconciler acts on it again.
  EXPECT_CALL(api, patch(_, "shop", "web", kube::PatchType::kJson, _, _))
      .WillOnce(Return(kube::api_error(kube::ApiErrorKind::kConflict, 409)));
  EXPECT_EQ(reconciler.reconcile(kKey).kind, kube::ReconcileResult::Kind::kRetry);
}

TEST_F(DeploymentReconcilerTest, AConflictRetriesFromFreshStateWithoutStatusOrEvent) {
  put(*deployments, deployment_object("shop", "web", "10", http_liveness_pod_spec()));
  EXPECT_CALL(api, patch(_, "shop", "web", kube::PatchType::kJson, _, _))
      .WillOnce(Return(kube::api_error(kube::ApiErrorKind::kConflict, 409)));
  EXPECT_EQ(reconciler.reconcile(kKey).kind, kube::ReconcileResult::Kind::kRetry);
  EXPECT_EQ(
      metrics.counter("meshprobe_write_conflicts_total", "", {"kind"}).labels({"template"}).value(),
      1);
}

TEST_F(DeploymentReconcilerTest, NeverTouchesAnExcludedNamespace) {
  put(*deployments, deployment_object("kube-system", "dns", "3", http_liveness_pod_spec()));
  EXPECT_EQ(reconciler.reconcile("kube-system/dns").kind, kube::ReconcileResult::Kind::kDone);
}

TEST_F(DeploymentReconcilerTest, CountsWorkloadsByConditionReasonUntilTheyAreDeleted) {
  auto workloads = [&](const std::string& reason) {
    return metrics.gauge("meshprobe_workloads", "", {"kind", "reason"})
        .labels({"Deployment", reason})
        .value();
  };
  const json original = deployment_object("shop", "web", "10", http_liveness_pod_spec());
  put(*deployments, original);
  const json converged = expect_rewrite(original, "Rewritten", "12");
  EXPECT_EQ(workloads("Rewritten"), 1);
  put(*deployments, converged);
  EXPECT_EQ(reconciler.reconcile(kKey).kind, kube::ReconcileResult::Kind::kDone);
  EXPECT_EQ(workloads("Rewritten"), 1) << "a converged Deployment counts once";

  deployments->apply(kube::WatchEventType::kDeleted, converged);
  EXPECT_EQ(reconciler.reconcile(kKey).kind, kube::ReconcileResult::Kind::kDone);
  EXPECT_EQ(workloads("Rewritten"), 0);
}

TEST_F(DeploymentReconcilerTest, ADeletedDeploymentIsDone) {
  EXPECT_EQ(reconciler.reconcile("shop/gone").kind, kube::ReconcileResult::Kind::kDone);
}

TEST_F(DeploymentReconcilerTest, TheGlobalToggleOffRestoresAndOnRewritesAgain) {
  json object = deployment_object("shop", "web", "10", http_liveness_pod_spec());
  put(*deployments, object);
  object = expect_rewrite(object, "Rewritten", "12");
  put(*deployments, object);

  put(*injector, injector_object(R"({"sidecarInjectorWebhook": {"rewriteAppHTTPProbe": false}})"));
  object = expect_rewrite(object, "Restored", "14");
  EXPECT_EQ(object["spec"]["template"],
            deployment_object("shop", "web", "", http_liveness_pod_spec())["spec"]["template"]);
  const json& condition = object["status"]["conditions"][0];
  EXPECT_EQ(condition["reason"], "DisabledGlobally");
  EXPECT_EQ(condition["status"], "False");
  put(*deployments, object);
  EXPECT_EQ(reconciler.reconcile(kKey).kind,
            kube::ReconcileResult::Kind::kDone);  // converged: no calls

  put(*injector,
      injector_object(R"({"sidecarInjectorWebhook": {"rewriteAppHTTPProbe": true}})", "6"));
  object = expect_rewrite(object, "Rewritten", "16");
  EXPECT_EQ(object["status"]["conditions"][0]["reason"], "Rewritten");
}

TEST_F(DeploymentReconcilerTest, TheTemplateAnnotationFalseWinsAndTheDeploymentsOwnIsReported) {
  json object = deployment_object("shop", "web", "10", http_liveness_pod_spec());
  object["metadata"]["annotations"] = {{"sidecar.istio.io/rewriteAppHTTPProbers", "false"}};
  object["spec"]["template"]["metadata"]["annotations"] = {
      {"sidecar.istio.io/rewriteAppHTTPProbers", "false"}};
  put(*deployments, object);
  std::string status_body;
  EXPECT_CALL(api, patch(_, "shop", "web", kube::PatchType::kApply, _, _))
      .WillOnce(DoAll(SaveArg<4>(&status_body), Return(with_version("11"))));
  EXPECT_EQ(reconciler.reconcile(kKey).kind, kube::ReconcileResult::Kind::kDone);
  const json condition = json::parse(status_body)["status"]["conditions"][0];
  EXPECT_EQ(condition["reason"], "DisabledByAnnotation");
  EXPECT_THAT(condition["message"].get<std::string>(), ::testing::HasSubstr("ignored"));
}

TEST_F(DeploymentReconcilerTest,
       AnUnresolvableNamedPortIsReportedWithAWarningAndNothingElseChanges) {
  json pod_spec = http_liveness_pod_spec();
  pod_spec["containers"][0]["livenessProbe"]["httpGet"]["port"] = "no-such-port";
  put(*deployments, deployment_object("shop", "web", "10", pod_spec));
  std::string status_body;
  json event;
  EXPECT_CALL(api, patch(_, "shop", "web", kube::PatchType::kApply, _, _))
      .WillOnce(DoAll(SaveArg<4>(&status_body), Return(with_version("11"))));
  EXPECT_CALL(api, create(IsType(kEventsV1), "shop", _, _))
      .WillOnce(DoAll(SaveArg<2>(&event), Return(json::object())));
  EXPECT_EQ(reconciler.reconcile(kKey).kind, kube::ReconcileResult::Kind::kDone);
  const json condition = json::parse(status_body)["status"]["conditions"][0];
  EXPECT_EQ(condition["reason"], "InvalidProbe");
  EXPECT_THAT(condition["message"].get<std::string>(), ::testing::HasSubstr("no-such-port"));
  EXPECT_EQ(event["type"], "Warning");
  EXPECT_EQ(event["reason"], "InvalidProbe");
}

TEST_F(DeploymentReconcilerTest, ATemplateThatIsNotAPodTemplateIsReportedAndNotRetried) {
  put(*deployments, deployment_object("shop", "web", "10", {{"containers", "not a list"}}));
  std::string status_body;
  EXPECT_CALL(api, patch(_, "shop", "web", kube::PatchType::kApply, _, _))
      .WillOnce(DoAll(SaveArg<4>(&status_body), Return(with_version("11"))));
  EXPECT_CALL(api, create(IsType(kEventsV1), "shop", _, _)).WillOnce(Return(json::object()));
  EXPECT_EQ(reconciler.reconcile(kKey).kind, kube::ReconcileResult::Kind::kTerminal);
  EXPECT_EQ(json::parse(status_body)["status"]["conditions"][0]["reason"], "InvalidProbe");
}

TEST_F(DeploymentReconcilerTest, AFailedEventIsLoggedAndDoesNotFailTheReconcile) {
  put(*deployments, deployment_object("shop", "web", "10", http_liveness_pod_spec()));
  EXPECT_CALL(api, patch(_, "shop", "web", kube::PatchType::kJson, _, _))
      .WillOnce(Return(with_version("11")));
  EXPECT_CALL(api, create(IsType(kEventsV1), "shop", _, _))
      .WillOnce(Return(kube::api_error(kube::ApiErrorKind::kForbidden, 403)));
  EXPECT_CALL(api, patch(_, "shop", "web", kube::PatchType::kApply, _, _))
      .WillOnce(Return(with_version("12")));
  EXPECT_EQ(reconciler.reconcile(kKey).kind, kube::ReconcileResult::Kind::kDone);
  EXPECT_THAT(logger.lines(),
              ::testing::Contains(::testing::HasSubstr("could not record Event Rewritten")));
}

TEST_F(DeploymentReconcilerTest, ThreeRevertsByAnotherManagerStopRewritingUntilTheTemplateChanges) {
  const json original = deployment_object("shop", "web", "10", http_liveness_pod_spec());
  put(*deployments, original);
  json rewritten = expect_rewrite(original, "Rewritten", "12");
  int version = 20;
  const auto revert = [&] {
    put(*deployments, rewritten);
    EXPECT_EQ(reconciler.reconcile(kKey).kind,
              kube::ReconcileResult::Kind::kDone);  // converged: no calls
    json reverted = rewritten;
    reverted["spec"]["template"] = original["spec"]["template"];
    reverted["metadata"]["managedFields"] =
        json::array({probe_owner("argocd-controller", format_time(clock.system_now()))});
    reverted["metadata"]["resourceVersion"] = std::to_string(++version);
    put(*deployments, reverted);
    clock.advance(std::chrono::seconds(30));
    return reverted;
  };
  for (int i = 0; i < 2; ++i) {
    json reverted = revert();
    std::string patch_body;
    EXPECT_CALL(api, patch(_, "shop", "web", kube::PatchType::kJson, _, _))
        .WillOnce(DoAll(SaveArg<4>(&patch_body), Return(with_version(std::to_string(++version)))));
    EXPECT_CALL(api, create(IsType(kEventsV1), "shop", _, _)).WillOnce(Return(json::object()));
    EXPECT_EQ(reconciler.reconcile(kKey).kind, kube::ReconcileResult::Kind::kDone);
    ::testing::Mock::VerifyAndClearExpectations(&api);
    rewritten = reverted.patch(json::parse(patch_body));
    rewritten["metadata"]["resourceVersion"] = std::to_string(++version);
  }

  // The third revert: no rewrite; the condition names the manager, with a Warning.
  json reverted = revert();
  std::string status_body;
  json event;
  EXPECT_CALL(api, patch(_, "shop", "web", kube::PatchType::kApply, _, _))
      .WillOnce(DoAll(SaveArg<4>(&status_body), Return(with_version(std::to_string(++version)))));
  EXPECT_CALL(api, create(IsType(kEventsV1), "shop", _, _))
      .WillOnce(DoAll(SaveArg<2>(&event), Return(json::object())));
  EXPECT_EQ(reconciler.reconcile(kKey).kind, kube::ReconcileResult::Kind::kDone);
  ::testing::Mock::VerifyAndClearExpectations(&api);
  const json condition = json::parse(status_body)["status"]["conditions"][0];
  EXPECT_EQ(condition["reason"], "ConflictingWriter");
  EXPECT_EQ(condition["status"], "False");
  EXPECT_THAT(condition["message"].get<std::string>(), ::testing::HasSubstr("argocd-controller"));
  EXPECT_EQ(event["type"], "Warning");
  EXPECT_EQ(event["reason"], "ConflictingWriter");

  // Sticky, also for a new process (a fresh reconciler that only has the condition).
  reverted["status"]["conditions"] = json::array({condition});
  reverted["metadata"]["resourceVersion"] = std::to_string(++version);
  put(*deployments, reverted);
  clock.advance(std::chrono::minutes(30));
  RevertTracker fresh_reverts{RevertTracker::Options{}};
  DeploymentReconciler restarted{cache, api,     events, fresh_reverts,
                                 clock, metrics, logger, options()};
  EXPECT_EQ(restarted.reconcile(kKey).kind, kube::ReconcileResult::Kind::kDone);
  EXPECT_EQ(reconciler.reconcile(kKey).kind, kube::ReconcileResult::Kind::kDone);

  // `kubectl rollout restart`: another manager changes the template afterwards: retry.
  reverted["metadata"]["managedFields"].push_back(
      {{"manager", "kubectl-rollout"},
       {"operation", "Update"},
       {"time", format_time(clock.system_now())},
       {"fieldsV1", {{"f:spec", {{"f:template", {{"f:metadata", json::object()}}}}}}}});
  reverted["metadata"]["resourceVersion"] = std::to_string(++version);
  put(*deployments, reverted);
  expect_rewrite(reverted, "Rewritten", std::to_string(++version));
}

TEST_F(DeploymentReconcilerTest, AServerSideApplyThatPutsOnlyTheProbesBackIsARevertToo) {
  const json original = deployment_object("shop", "web", "10", http_liveness_pod_spec());
  put(*deployments, original);
  json rewritten = expect_rewrite(original, "Rewritten", "12");
  put(*deployments, rewritten);
  EXPECT_EQ(reconciler.reconcile(kKey).kind, kube::ReconcileResult::Kind::kDone);  // converged
  // Apply keeps the agent container meshprobe owns; only the probe goes back.
  json reverted = rewritten;
  reverted["spec"]["template"]["spec"]["containers"][0]["livenessProbe"] =
      original["spec"]["template"]["spec"]["containers"][0]["livenessProbe"];
  reverted["metadata"]["managedFields"] =
      json::array({probe_owner("flux", format_time(clock.system_now()))});
  reverted["metadata"]["resourceVersion"] = "13";
  put(*deployments, reverted);
  EXPECT_CALL(api, patch(_, "shop", "web", kube::PatchType::kJson, _, _))
      .WillOnce(Return(with_version("14")));
  EXPECT_CALL(api, create(IsType(kEventsV1), "shop", _, _)).WillOnce(Return(json::object()));
  EXPECT_EQ(reconciler.reconcile(kKey).kind, kube::ReconcileResult::Kind::kDone);
  EXPECT_EQ(metrics.counter("meshprobe_reverts_total", "").labels({}).value(), 1);
  EXPECT_THAT(
      logger.lines(),
      ::testing::Contains(::testing::HasSubstr("flux put the original probes of shop/web back")));
}

TEST(TemplatePatchTest, ChangesExactlyTheDifferingPathsWithEscapedKeys) {
  const json current = {
      {"metadata", {{"labels", {{"app", "web"}}}, {"annotations", {{"team", "shop"}}}}},
      {"spec", {{"containers", json::array({{{"name", "web"}}})}}}};
  json desired = current;
  desired["metadata"]["annotations"]["meshprobe.io/original-probes"] = "{}";
  desired["spec"]["containers"][0]["image"] = "web:2";
  const json patch = json::parse(template_patch(current, desired, "42"));
  EXPECT_EQ(patch[0],
            (json{{"op", "replace"}, {"path", "/metadata/resourceVersion"}, {"value", "42"}}));
  EXPECT_EQ(patch.size(), 3u);
  const json object = {{"metadata", {{"resourceVersion", "42"}}},
                       {"spec", {{"template", current}}}};
  EXPECT_EQ(object.patch(patch)["spec"]["template"], desired);
  EXPECT_NE(patch.dump().find("meshprobe.io~1original-probes"), std::string::npos);
}

}  // namespace
}  // namespace meshprobe::controller
