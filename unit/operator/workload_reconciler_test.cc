#include "operator/workload_reconciler.h"

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

const std::string kKey = "Deployment/shop/web";

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

class WorkloadReconcilerTest : public ClusterFixture {
 protected:
  void SetUp() override {
    put(*namespaces, namespace_object("shop", {{"istio-injection", "enabled"}}));
  }

  WorkloadReconcilerOptions options() {
    WorkloadReconcilerOptions options;
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
  RolloutPacer pacer{{.max_concurrent = 0}, clock, metrics};
  WorkloadReconciler reconciler{cache, api,     events, reverts,  pacer,
                                clock, metrics, logger, options()};
};

TEST_F(WorkloadReconcilerTest, RewritesWithOneGuardedPatchOfTheTemplateAStatusApplyAndAnEvent) {
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
            "False");

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
  EXPECT_THAT(
      logger.lines(),
      ::testing::Contains(::testing::HasSubstr(
          "rewrote liveness of Deployment shop/web container web: httpGet :8080/healthz → ")));
}

TEST_F(WorkloadReconcilerTest,
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

TEST_F(WorkloadReconcilerTest, AnExpectationThatIsNeverMetExpires) {
  const json original = deployment_object("shop", "web", "10", http_liveness_pod_spec());
  put(*deployments, original);
  expect_rewrite(original, "Rewritten", "12");
  clock.advance(std::chrono::minutes(2));
  // The cache still shows version 10: after the timeout, the reconciler acts on it again.
  EXPECT_CALL(api, patch(_, "shop", "web", kube::PatchType::kJson, _, _))
      .WillOnce(Return(kube::api_error(kube::ApiErrorKind::kConflict, 409)));
  EXPECT_EQ(reconciler.reconcile(kKey).kind, kube::ReconcileResult::Kind::kRetry);
}

TEST_F(WorkloadReconcilerTest, AConflictRetriesFromFreshStateWithoutStatusOrEvent) {
  put(*deployments, deployment_object("shop", "web", "10", http_liveness_pod_spec()));
  EXPECT_CALL(api, patch(_, "shop", "web", kube::PatchType::kJson, _, _))
      .WillOnce(Return(kube::api_error(kube::ApiErrorKind::kConflict, 409)));
  EXPECT_EQ(reconciler.reconcile(kKey).kind, kube::ReconcileResult::Kind::kRetry);
  EXPECT_EQ(
      metrics.counter("meshprobe_write_conflicts_total", "", {"kind"}).labels({"template"}).value(),
      1);
}

TEST_F(WorkloadReconcilerTest, NeverTouchesAnExcludedNamespace) {
  put(*deployments, deployment_object("kube-system", "dns", "3", http_liveness_pod_spec()));
  EXPECT_EQ(reconciler.reconcile("Deployment/kube-system/dns").kind,
            kube::ReconcileResult::Kind::kDone);
}

TEST_F(WorkloadReconcilerTest, CountsWorkloadsByConditionReasonUntilTheyAreDeleted) {
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

TEST_F(WorkloadReconcilerTest, ADeletedDeploymentIsDone) {
  EXPECT_EQ(reconciler.reconcile("Deployment/shop/gone").kind, kube::ReconcileResult::Kind::kDone);
}

TEST_F(WorkloadReconcilerTest, TheGlobalToggleOffRestoresAndOnRewritesAgain) {
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

TEST_F(WorkloadReconcilerTest, TheTemplateAnnotationFalseWinsAndTheDeploymentsOwnIsReported) {
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

TEST_F(WorkloadReconcilerTest, AnUnresolvableNamedPortIsReportedWithAWarningAndNothingElseChanges) {
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

TEST_F(WorkloadReconcilerTest, ATemplateThatIsNotAPodTemplateIsReportedAndNotRetried) {
  put(*deployments, deployment_object("shop", "web", "10", {{"containers", "not a list"}}));
  std::string status_body;
  EXPECT_CALL(api, patch(_, "shop", "web", kube::PatchType::kApply, _, _))
      .WillOnce(DoAll(SaveArg<4>(&status_body), Return(with_version("11"))));
  EXPECT_CALL(api, create(IsType(kEventsV1), "shop", _, _)).WillOnce(Return(json::object()));
  EXPECT_EQ(reconciler.reconcile(kKey).kind, kube::ReconcileResult::Kind::kTerminal);
  EXPECT_EQ(json::parse(status_body)["status"]["conditions"][0]["reason"], "InvalidProbe");
}

TEST_F(WorkloadReconcilerTest, AFailedEventIsLoggedAndDoesNotFailTheReconcile) {
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

TEST_F(WorkloadReconcilerTest, ThreeRevertsByAnotherManagerStopRewritingUntilTheTemplateChanges) {
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
  WorkloadReconciler restarted{cache, api,     events, fresh_reverts, pacer,
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

TEST_F(WorkloadReconcilerTest, AServerSideApplyThatPutsOnlyTheProbesBackIsARevertToo) {
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
  EXPECT_THAT(logger.lines(), ::testing::Contains(::testing::HasSubstr(
                                  "flux put the original probes of Deployment shop/web back")));
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

// ---- Every kind through the one reconciler -------------------------------------------------

// An object of `kind` as the API server serves it, with the template of deployment_object().
json workload_object(const WorkloadKind& kind, const std::string& namespace_name,
                     const std::string& name, const std::string& resource_version,
                     const json& pod_spec = http_liveness_pod_spec()) {
  json object = deployment_object(namespace_name, name, resource_version, pod_spec);
  object["apiVersion"] = kind.resource.api_version();
  object["kind"] = kind.kind;
  if (kind.kind == "CronJob") {
    json pod_template = object["spec"]["template"];
    object["spec"] = {{"schedule", "0 3 * * *"},
                      {"jobTemplate", {{"spec", {{"template", pod_template}}}}}};
    object.erase("status");
  }
  // Its one Pod Ready, as a running StatefulSet's (readiness matters to a StatefulSet's rollout:
  // RolloutProgress::waits_for_unready_pods).
  if (kind.kind == "StatefulSet") object["status"]["readyReplicas"] = 1;
  return object;
}

const WorkloadKind& kind_named(std::string_view name) { return *find_workload_kind(name); }

class EveryKindTest : public WorkloadReconcilerTest {
 protected:
  // Puts `object` of `kind` into its cache.
  void put_workload(const WorkloadKind& kind, const json& object) {
    put(workloads_of(kind.kind), object);
  }
};

// The StatefulSet controller writes its whole status and would drop a condition of ours: the
// state goes into annotations, as a CronJob's.
TEST_F(EveryKindTest, AStatefulSetIsRewrittenWithItsOwnResourceAndItsStateInAnnotations) {
  const WorkloadKind& kind = kind_named("StatefulSet");
  const json original = workload_object(kind, "shop", "web", "10");
  put_workload(kind, original);
  std::string patch_body;
  std::string state_body;
  json event;
  EXPECT_CALL(api, patch(IsType(kind.resource), "shop", "web", kube::PatchType::kJson, _, _))
      .WillOnce(DoAll(SaveArg<4>(&patch_body), Return(with_version("11"))));
  EXPECT_CALL(api, create(IsType(kEventsV1), "shop", _, _))
      .WillOnce(DoAll(SaveArg<2>(&event), Return(json::object())));
  EXPECT_CALL(api, patch(IsType(kind.resource), "shop", "web", kube::PatchType::kMerge, _,
                         Field(&kube::PatchOptions::subresource, "")))
      .WillOnce(DoAll(SaveArg<4>(&state_body), Return(with_version("12"))));
  EXPECT_EQ(reconciler.reconcile("StatefulSet/shop/web").kind, kube::ReconcileResult::Kind::kDone);

  auto expected = probe::rewrite(original["spec"]["template"], {"agent:1", kTestAgentPort});
  ASSERT_TRUE(expected.ok());
  probe::hold_istio_rewrite(expected->pod_template);
  EXPECT_EQ(original.patch(json::parse(patch_body))["spec"]["template"], expected->pod_template);
  const json annotations = json::parse(state_body)["metadata"]["annotations"];
  EXPECT_EQ(annotations["meshprobe.io/health-probes-rewritten"], "True");
  EXPECT_EQ(annotations["meshprobe.io/health-probes-reason"], "Rewritten");
  EXPECT_NE(annotations["meshprobe.io/health-probes-last-transition-time"], "");
  EXPECT_EQ(event["regarding"]["kind"], "StatefulSet");
  EXPECT_EQ(event["regarding"]["apiVersion"], "apps/v1");
}

TEST_F(EveryKindTest, ADaemonSetWithOnDeleteSaysItsPodsPickTheChangeUpWhenRecreated) {
  const WorkloadKind& kind = kind_named("DaemonSet");
  json original = workload_object(kind, "shop", "agent", "10");
  original["spec"]["updateStrategy"] = {{"type", "OnDelete"}};
  put_workload(kind, original);
  RolloutPacer limited{{.max_concurrent = 1}, clock, metrics};
  ASSERT_TRUE(limited.admit("Deployment/shop/other"));
  limited.started("Deployment/shop/other", 2);  // every slot taken: OnDelete needs none
  WorkloadReconciler reconciler_with_limit{cache, api,     events, reverts,  limited,
                                           clock, metrics, logger, options()};
  std::string status_body;
  json event;
  EXPECT_CALL(api, patch(IsType(kind.resource), "shop", "agent", kube::PatchType::kJson, _, _))
      .WillOnce(Return(with_version("11")));
  EXPECT_CALL(api, create(IsType(kEventsV1), "shop", _, _))
      .WillOnce(DoAll(SaveArg<2>(&event), Return(json::object())));
  EXPECT_CALL(api, patch(IsType(kind.resource), "shop", "agent", kube::PatchType::kApply, _, _))
      .WillOnce(DoAll(SaveArg<4>(&status_body), Return(with_version("12"))));
  EXPECT_EQ(reconciler_with_limit.reconcile("DaemonSet/shop/agent").kind,
            kube::ReconcileResult::Kind::kDone);
  const json condition = json::parse(status_body)["status"]["conditions"][0];
  EXPECT_EQ(condition["reason"], "Rewritten");
  EXPECT_THAT(
      condition["message"].get<std::string>(),
      ::testing::HasSubstr("OnDelete: its Pods pick the change up when they are recreated"));
  EXPECT_THAT(event["note"].get<std::string>(), ::testing::HasSubstr("OnDelete"));
  EXPECT_EQ(limited.in_progress(), 1u);  // no slot taken
}

// Installing into a STRICT mesh: a StatefulSet's Pods are not Ready because their HTTP probes
// fail, and with OrderedReady its controller will not replace them. The write says so and
// takes no rollout slot (it would hold one until the deadline).
TEST_F(EveryKindTest, AStatefulSetWhosePodsAreNotReadyIsToldToHaveThemDeletedAndTakesNoSlot) {
  const WorkloadKind& kind = kind_named("StatefulSet");
  json original = workload_object(kind, "shop", "db", "10");
  original["status"]["readyReplicas"] = 0;
  put_workload(kind, original);
  RolloutPacer limited{{.max_concurrent = 1}, clock, metrics};
  ASSERT_TRUE(limited.admit("Deployment/shop/other"));
  limited.started("Deployment/shop/other", 2);  // every slot taken
  WorkloadReconciler reconciler_with_limit{cache, api,     events, reverts,  limited,
                                           clock, metrics, logger, options()};
  std::vector<json> recorded;
  EXPECT_CALL(api, patch(IsType(kind.resource), "shop", "db", kube::PatchType::kJson, _, _))
      .WillOnce(Return(with_version("11")));
  EXPECT_CALL(api, create(IsType(kEventsV1), "shop", _, _))
      .Times(2)
      .WillRepeatedly([&](auto&&, auto&&, const json& event, auto&&) -> kube::ApiResult<json> {
        recorded.push_back(event);
        return json::object();
      });
  EXPECT_CALL(api, patch(IsType(kind.resource), "shop", "db", kube::PatchType::kMerge, _, _))
      .WillOnce(Return(with_version("12")));
  EXPECT_EQ(reconciler_with_limit.reconcile("StatefulSet/shop/db").kind,
            kube::ReconcileResult::Kind::kDone);
  ASSERT_EQ(recorded.size(), 2u);
  EXPECT_EQ(recorded[0]["reason"], "Rewritten");
  EXPECT_EQ(recorded[1]["type"], "Warning");
  EXPECT_EQ(recorded[1]["reason"], "RolloutWaitsForReadyPods");
  EXPECT_THAT(recorded[1]["note"].get<std::string>(),
              ::testing::HasSubstr("delete the Pods that are not Ready"));
  EXPECT_EQ(limited.in_progress(), 1u);  // no slot taken

  // With podManagementPolicy Parallel the StatefulSet replaces them itself: paced, no warning.
  json parallel = workload_object(kind, "shop", "queue", "20");
  parallel["spec"]["podManagementPolicy"] = "Parallel";
  parallel["status"]["readyReplicas"] = 0;
  put_workload(kind, parallel);
  EXPECT_CALL(api, patch(IsType(kind.resource), "shop", "queue", _, _, _)).Times(0);
  EXPECT_CALL(api, patch(IsType(kind.resource), "shop", "queue", kube::PatchType::kMerge, _, _))
      .WillOnce(Return(with_version("21")));
  EXPECT_EQ(reconciler_with_limit.reconcile("StatefulSet/shop/queue").kind,
            kube::ReconcileResult::Kind::kRequeueAfter);  // waits for a slot: RolloutQueued
}

TEST_F(EveryKindTest, ACronJobsJobTemplateIsRewrittenAndItsStateGoesIntoAnnotations) {
  const WorkloadKind& kind = kind_named("CronJob");
  put(*namespaces, namespace_object("batch", {{"istio-injection", "enabled"}}));
  json object = workload_object(kind, "batch", "nightly", "10");
  put_workload(kind, object);
  std::string patch_body;
  std::string annotation_body;
  EXPECT_CALL(api, patch(IsType(kind.resource), "batch", "nightly", kube::PatchType::kJson, _, _))
      .WillOnce(DoAll(SaveArg<4>(&patch_body), Return(with_version("11"))));
  EXPECT_CALL(api, create(IsType(kEventsV1), "batch", _, _)).WillOnce(Return(json::object()));
  EXPECT_CALL(api, patch(IsType(kind.resource), "batch", "nightly", kube::PatchType::kMerge, _,
                         Field(&kube::PatchOptions::subresource, "")))
      .WillOnce(DoAll(SaveArg<4>(&annotation_body), Return(with_version("12"))));
  EXPECT_EQ(reconciler.reconcile("CronJob/batch/nightly").kind, kube::ReconcileResult::Kind::kDone);
  for (const auto& operation : json::parse(patch_body)) {
    if (operation["path"] == "/metadata/resourceVersion") continue;
    EXPECT_TRUE(
        operation["path"].get<std::string>().starts_with("/spec/jobTemplate/spec/template/"))
        << operation;
  }
  const json annotations = json::parse(annotation_body)["metadata"]["annotations"];
  EXPECT_EQ(annotations["meshprobe.io/health-probes-rewritten"], "True");
  EXPECT_EQ(annotations["meshprobe.io/health-probes-reason"], "Rewritten");
  EXPECT_THAT(annotations["meshprobe.io/health-probes-message"].get<std::string>(),
              ::testing::HasSubstr("/app-health/web/livez"));

  // Converged: the annotations are read back as the condition, nothing is written again.
  object = object.patch(json::parse(patch_body));
  object["metadata"]["annotations"] = annotations;
  object["metadata"]["resourceVersion"] = "12";
  put_workload(kind, object);
  EXPECT_EQ(reconciler.reconcile("CronJob/batch/nightly").kind, kube::ReconcileResult::Kind::kDone);
}

TEST_F(EveryKindTest, ARolloutsConditionIsPatchedIntoItsAtomicListAtItsIndex) {
  const WorkloadKind& kind = kind_named("Rollout");
  json object = workload_object(kind, "shop", "web", "10");
  object["status"]["conditions"] = json::array({{{"type", "Progressing"}, {"status", "True"}}});
  put_workload(kind, object);
  std::string status_body;
  EXPECT_CALL(api, patch(IsType(kind.resource), "shop", "web", kube::PatchType::kJson, _,
                         Field(&kube::PatchOptions::subresource, "")))
      .WillOnce(Return(with_version("11")));
  EXPECT_CALL(api, create(IsType(kEventsV1), "shop", _, _)).WillOnce(Return(json::object()));
  EXPECT_CALL(api, patch(IsType(kind.resource), "shop", "web", kube::PatchType::kJson, _,
                         Field(&kube::PatchOptions::subresource, "status")))
      .WillOnce(DoAll(SaveArg<4>(&status_body), Return(with_version("12"))));
  EXPECT_EQ(reconciler.reconcile("Rollout/shop/web").kind, kube::ReconcileResult::Kind::kDone);
  const json patch = json::parse(status_body);
  // Conditional on this reconcile's own template write (11), not the version read (10).
  EXPECT_EQ(patch[0],
            (json{{"op", "replace"}, {"path", "/metadata/resourceVersion"}, {"value", "11"}}));
  EXPECT_EQ(patch[1]["op"], "add");
  EXPECT_EQ(patch[1]["path"], "/status/conditions/-");
  EXPECT_EQ(patch[1]["value"]["reason"], "Rewritten");
  EXPECT_TRUE(patch[1]["value"].contains("lastUpdateTime"));  // required by the Rollout CRD
  const json patched = object.patch(patch);
  EXPECT_EQ(patched["status"]["conditions"][0]["type"], "Progressing");  // kept

  // A later change replaces our entry where it is.
  object = patched;
  object["metadata"]["resourceVersion"] = "20";
  object["spec"]["template"]["metadata"]["annotations"] = {
      {"sidecar.istio.io/rewriteAppHTTPProbers", "false"}};
  put_workload(kind, object);
  EXPECT_CALL(api, patch(IsType(kind.resource), "shop", "web", kube::PatchType::kJson, _,
                         Field(&kube::PatchOptions::subresource, "status")))
      .WillOnce(DoAll(SaveArg<4>(&status_body), Return(with_version("21"))));
  EXPECT_EQ(reconciler.reconcile("Rollout/shop/web").kind, kube::ReconcileResult::Kind::kDone);
  EXPECT_EQ(json::parse(status_body)[1]["path"], "/status/conditions/1");
  EXPECT_EQ(json::parse(status_body)[1]["op"], "replace");
}

TEST_F(EveryKindTest, ARolloutWithWorkloadRefIsLeftToItsDeployment) {
  const WorkloadKind& kind = kind_named("Rollout");
  json object = workload_object(kind, "shop", "web", "10");
  object["spec"] = {
      {"workloadRef", {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", "web"}}}};
  put_workload(kind, object);
  EXPECT_EQ(reconciler.reconcile("Rollout/shop/web").kind,
            kube::ReconcileResult::Kind::kDone);  // StrictMock: no call at all
}

TEST_F(EveryKindTest, ATemplateOwnedByAnotherControllerIsReportedAndNotWritten) {
  const WorkloadKind& kind = kind_named("DaemonSet");
  json object = workload_object(kind, "shop", "web", "10");
  object["metadata"]["ownerReferences"] = json::array({{{"apiVersion", "acid.zalan.do/v1"},
                                                        {"kind", "postgresql"},
                                                        {"name", "web-db"},
                                                        {"uid", "u"},
                                                        {"controller", true}}});
  put_workload(kind, object);
  std::string status_body;
  EXPECT_CALL(api, patch(IsType(kind.resource), "shop", "web", kube::PatchType::kApply, _, _))
      .WillOnce(DoAll(SaveArg<4>(&status_body), Return(with_version("11"))));
  EXPECT_CALL(api, create(IsType(kEventsV1), "shop", _, _)).WillOnce(Return(json::object()));
  EXPECT_EQ(reconciler.reconcile("DaemonSet/shop/web").kind, kube::ReconcileResult::Kind::kDone);
  const json condition = json::parse(status_body)["status"]["conditions"][0];
  EXPECT_EQ(condition["status"], "False");
  EXPECT_EQ(condition["reason"], "OwnedByController");
  EXPECT_THAT(condition["message"].get<std::string>(), ::testing::HasSubstr("postgresql/web-db"));

  // With rewriteOwnedTemplates, it is rewritten as any other.
  WorkloadReconcilerOptions owned = options();
  owned.rewrite_owned_templates = true;
  WorkloadReconciler covering{cache, api, events, reverts, pacer, clock, metrics, logger, owned};
  EXPECT_CALL(api, patch(IsType(kind.resource), "shop", "web", kube::PatchType::kJson, _, _))
      .WillOnce(Return(with_version("12")));
  EXPECT_CALL(api, create(IsType(kEventsV1), "shop", _, _)).WillOnce(Return(json::object()));
  EXPECT_CALL(api, patch(IsType(kind.resource), "shop", "web", kube::PatchType::kApply, _, _))
      .WillOnce(Return(with_version("13")));
  EXPECT_EQ(covering.reconcile("DaemonSet/shop/web").kind, kube::ReconcileResult::Kind::kDone);
}

// ---- Rollout pacing --------------------------------------------------------------------------

class PacingTest : public WorkloadReconcilerTest {
 protected:
  void expect_rewrite_of(const std::string& name, const std::string& version) {
    EXPECT_CALL(api, patch(_, "shop", name, kube::PatchType::kJson, _, _))
        .WillOnce(Return(json{{"metadata", {{"resourceVersion", version}, {"generation", 2}}}}));
    EXPECT_CALL(api, create(IsType(kEventsV1), "shop", _, _)).WillOnce(Return(json::object()));
    EXPECT_CALL(api, patch(_, "shop", name, kube::PatchType::kApply, _, _))
        .WillOnce(Return(with_version(version + "1")));
  }
  RolloutPacer limited{{.max_concurrent = 1, .deadline = std::chrono::minutes(10)}, clock, metrics};
  std::vector<std::string> woken;
  WorkloadReconciler paced{cache, api, events, reverts, limited, clock, metrics, logger, options()};
};

TEST_F(PacingTest, ASecondRolloutWaitsOnItsConditionUntilTheFirstFinishes) {
  limited.set_wake([this](const std::string& key) { woken.push_back(key); });
  json first = deployment_object("shop", "first", "10", http_liveness_pod_spec());
  put(*deployments, first);
  put(*deployments, deployment_object("shop", "second", "20", http_liveness_pod_spec()));
  expect_rewrite_of("first", "11");
  EXPECT_EQ(paced.reconcile("Deployment/shop/first").kind, kube::ReconcileResult::Kind::kDone);
  ::testing::Mock::VerifyAndClearExpectations(&api);

  // The second waits: no template write, the condition says why.
  std::string status_body;
  EXPECT_CALL(api, patch(_, "shop", "second", kube::PatchType::kApply, _, _))
      .WillOnce(DoAll(SaveArg<4>(&status_body), Return(with_version("21"))));
  const auto waiting = paced.reconcile("Deployment/shop/second");
  ::testing::Mock::VerifyAndClearExpectations(&api);
  EXPECT_EQ(waiting.kind, kube::ReconcileResult::Kind::kRequeueAfter);
  EXPECT_EQ(waiting.after, std::chrono::minutes(10));  // at the latest, the first's deadline
  const json condition = json::parse(status_body)["status"]["conditions"][0];
  EXPECT_EQ(condition["reason"], "RolloutQueued");
  EXPECT_EQ(condition["status"], "False");
  EXPECT_THAT(condition["message"].get<std::string>(),
              ::testing::HasSubstr("maxConcurrentRollouts"));
  EXPECT_EQ(metrics.gauge("meshprobe_rollouts_waiting", "").labels({}).value(), 1);

  // The first's rollout finishes (generation 2 observed, every replica updated and available).
  first = first.patch(json::parse(template_patch(
      first["spec"]["template"],
      probe::rewrite(first["spec"]["template"], {"agent:1", kTestAgentPort})->pod_template, "11")));
  first["metadata"]["generation"] = 2;
  first["metadata"]["resourceVersion"] = "300";
  first["status"] = {
      {"observedGeneration", 2}, {"replicas", 1}, {"updatedReplicas", 1}, {"availableReplicas", 1}};
  put(*deployments, first);
  EXPECT_CALL(api, patch(_, "shop", "first", kube::PatchType::kApply, _, _))
      .WillOnce(Return(with_version("31")));  // its condition (the cache had none)
  paced.reconcile("Deployment/shop/first");
  ::testing::Mock::VerifyAndClearExpectations(&api);
  EXPECT_EQ(woken, (std::vector<std::string>{"Deployment/shop/second"}));

  json second = deployment_object("shop", "second", "21", http_liveness_pod_spec());
  second["status"]["conditions"] = json::array({condition});
  put(*deployments, second);
  expect_rewrite_of("second", "22");
  EXPECT_EQ(paced.reconcile("Deployment/shop/second").kind, kube::ReconcileResult::Kind::kDone);
}

TEST_F(PacingTest, ARolloutPastItsDeadlineIsReportedAndFreesItsSlot) {
  put(*deployments, deployment_object("shop", "stuck", "10", http_liveness_pod_spec()));
  put(*deployments, deployment_object("shop", "next", "20", http_liveness_pod_spec()));
  expect_rewrite_of("stuck", "11");
  paced.reconcile("Deployment/shop/stuck");
  EXPECT_CALL(api, patch(_, "shop", "next", kube::PatchType::kApply, _, _))
      .WillOnce(Return(with_version("21")));
  EXPECT_EQ(paced.reconcile("Deployment/shop/next").kind,
            kube::ReconcileResult::Kind::kRequeueAfter);
  ::testing::Mock::VerifyAndClearExpectations(&api);

  clock.advance(std::chrono::minutes(10));
  std::vector<json> events_sent;
  EXPECT_CALL(api, create(IsType(kEventsV1), "shop", _, _))
      .Times(2)
      .WillRepeatedly(
          DoAll([&](auto&&, auto&&, const json& event, auto&&) { events_sent.push_back(event); },
                Return(json::object())));
  EXPECT_CALL(api, patch(_, "shop", "next", kube::PatchType::kJson, _, _))
      .WillOnce(Return(with_version("22")));
  EXPECT_CALL(api, patch(_, "shop", "next", kube::PatchType::kApply, _, _))
      .WillOnce(Return(with_version("23")));
  put(*deployments, deployment_object("shop", "next", "21", http_liveness_pod_spec()));
  EXPECT_EQ(paced.reconcile("Deployment/shop/next").kind, kube::ReconcileResult::Kind::kDone);
  ASSERT_EQ(events_sent.size(), 2u);
  EXPECT_EQ(events_sent[0]["type"], "Warning");
  EXPECT_EQ(events_sent[0]["reason"], "RolloutDeadlineExceeded");
  EXPECT_EQ(events_sent[0]["regarding"]["name"], "stuck");
  EXPECT_EQ(events_sent[1]["reason"], "Rewritten");
  EXPECT_EQ(metrics.counter("meshprobe_rollouts_timed_out_total", "").labels({}).value(), 1);
}

TEST_F(PacingTest, ZeroMeansEveryWorkloadIsWrittenAtOnce) {
  for (int i = 0; i < 5; ++i) {
    const std::string name = "w" + std::to_string(i);
    put(*deployments, deployment_object("shop", name, "10", http_liveness_pod_spec()));
    expect_rewrite_of(name, "1" + std::to_string(i));
    EXPECT_EQ(reconciler.reconcile("Deployment/shop/" + name).kind,
              kube::ReconcileResult::Kind::kDone);  // the fixture's pacer: max_concurrent 0
  }
  EXPECT_EQ(metrics.counter("meshprobe_rollouts_started_total", "").labels({}).value(), 5);
  EXPECT_EQ(pacer.waiting(), 0u);
}

// ---- issue 17 item 6: a failed status write is never dropped ---------------------------------

TEST_F(WorkloadReconcilerTest, ARefusedTemplateWhoseReportCannotBeWrittenIsRetriedNotDropped) {
  put(*deployments, deployment_object("shop", "web", "10", http_liveness_pod_spec()));
  EXPECT_CALL(api, patch(_, "shop", "web", kube::PatchType::kJson, _, _))
      .WillOnce(Return(kube::api_error(kube::ApiErrorKind::kInvalid, 422)));
  EXPECT_CALL(api, patch(_, "shop", "web", kube::PatchType::kApply, _, _))
      .WillOnce(Return(kube::api_error(kube::ApiErrorKind::kServerError, 500)));
  const auto result = reconciler.reconcile(kKey);
  EXPECT_EQ(result.kind, kube::ReconcileResult::Kind::kRetry);
  EXPECT_THAT(result.error, ::testing::HasSubstr("writing the condition"));
}

}  // namespace
}  // namespace meshprobe::controller
