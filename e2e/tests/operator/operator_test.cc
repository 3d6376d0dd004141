// meshprobe controller on the real control plane (issue 5): the seed's walkthrough step by
// step, policy precedence, WhenRequired following a PeerAuthentication, the condition next to
// the deployment controller's status, no writes to a converged Deployment, concurrent edits,
// invalid input, and a GitOps tool fighting the rewrite.
#include <gmock/gmock.h>

#include <iostream>
#include <thread>

#include "operator_fixture.h"

namespace meshprobe::e2e {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// The seed's HTTP liveness Deployment (seed/health-checking-of-istio-services.md).
std::string liveness_http(const std::string& name, const std::string& template_annotation = "",
                          const std::string& deployment_annotation = "") {
  std::string yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name + "\n";
  if (!deployment_annotation.empty()) {
    yaml += "  annotations:\n    sidecar.istio.io/rewriteAppHTTPProbers: \"" +
            deployment_annotation + "\"\n";
  }
  yaml += R"(spec:
  selector:
    matchLabels:
      app: )" +
          name + R"(
      version: v1
  template:
    metadata:
      labels:
        app: )" +
          name + R"(
        version: v1
)";
  if (!template_annotation.empty()) {
    yaml += "      annotations:\n        sidecar.istio.io/rewriteAppHTTPProbers: \"" +
            template_annotation + "\"\n";
  }
  yaml += R"(    spec:
      containers:
      - name: liveness-http
        image: docker.io/istio/health:example
        ports:
        - containerPort: 8001
        livenessProbe:
          httpGet:
            path: /foo
            port: 8001
          initialDelaySeconds: 5
          periodSeconds: 5
)";
  return yaml;
}

// Istio's samples/health-check/liveness-command.yaml (its Deployment).
constexpr std::string_view kLivenessCommand = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: liveness
spec:
  selector:
    matchLabels:
      app: liveness
  template:
    metadata:
      labels:
        app: liveness
    spec:
      containers:
      - name: liveness
        image: registry.k8s.io/busybox
        args: [/bin/sh, -c, touch /tmp/healthy; sleep 3600]
        livenessProbe:
          exec:
            command: [cat, /tmp/healthy]
          initialDelaySeconds: 5
          periodSeconds: 5
)";

std::string strict_peer_authentication(const std::string& namespace_name,
                                       const std::string& mode = "STRICT") {
  return "apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata:\n  name: "
         "\"default\"\n"
         "  namespace: \"" +
         namespace_name + "\"\nspec:\n  mtls:\n    mode: " + mode + "\n";
}

const char* kSeedDisable =
    R"(kubectl get cm istio-sidecar-injector -n istio-system -o yaml | sed -e 's/"rewriteAppHTTPProbe": true/"rewriteAppHTTPProbe": false/' | kubectl apply -f -)";
const char* kSeedEnable =
    R"(kubectl get cm istio-sidecar-injector -n istio-system -o yaml | sed -e 's/"rewriteAppHTTPProbe": false/"rewriteAppHTTPProbe": true/' | kubectl apply -f -)";

json liveness_probe(const json& deployment) {
  return field(deployment, "/spec/template/spec/containers/0/livenessProbe");
}

class OperatorTest : public OperatorEndToEndTest {};

TEST_F(OperatorTest, TheSeedWalkthroughStepByStep) {
  // $ kubectl create ns istio-io-health (with a suffix: tests share the cluster)
  const std::string seed_namespace =
      "istio-io-health-" + test_namespace().substr(test_namespace().size() - 5);
  kubectl_ok({"create", "namespace", seed_namespace});
  kubectl_ok({"label", "namespace", seed_namespace, "istio-injection=enabled"});
  // Strict mutual TLS.
  kubectl_ok({"apply", "-f", "-"}, strict_peer_authentication(seed_namespace));
  // The liveness-command sample: an exec probe, left alone.
  kubectl_ok({"apply", "-n", seed_namespace, "-f", "-"}, kLivenessCommand);
  EXPECT_TRUE(eventually_reason("liveness", "NoRewritableProbes", false, seed_namespace));
  EXPECT_EQ(deployment("liveness", seed_namespace)["metadata"]["generation"], 1);
  // The HTTP liveness Deployment: rewritten to the agent.
  kubectl_ok({"apply", "-n", seed_namespace, "-f", "-"}, liveness_http("liveness-http"));
  EXPECT_TRUE(eventually_reason("liveness-http", "Rewritten", true, seed_namespace));
  json rewritten = deployment("liveness-http", seed_namespace);
  EXPECT_EQ(liveness_probe(rewritten)["httpGet"]["path"], "/app-health/liveness-http/livez");
  EXPECT_EQ(liveness_probe(rewritten)["httpGet"]["port"], 15120);
  EXPECT_EQ(rewrite_condition(rewritten)["status"], "True");
  // Disabled for one pod by the template annotation: left alone.
  kubectl_ok({"apply", "-n", seed_namespace, "-f", "-"},
             liveness_http("liveness-http-opt-out", "false"));
  EXPECT_TRUE(
      eventually_reason("liveness-http-opt-out", "DisabledByAnnotation", false, seed_namespace));
  EXPECT_EQ(liveness_probe(deployment("liveness-http-opt-out", seed_namespace))["httpGet"]["port"],
            8001);
  // The annotation on the Deployment's own metadata is ignored, and the condition says so.
  kubectl_ok({"apply", "-n", seed_namespace, "-f", "-"},
             liveness_http("liveness-http-outer", "", "false"));
  EXPECT_TRUE(eventually_reason("liveness-http-outer", "Rewritten", true, seed_namespace));
  EXPECT_THAT(rewrite_condition(deployment("liveness-http-outer", seed_namespace))["message"]
                  .get<std::string>(),
              HasSubstr("ignored"));

  // The seed's global switch, word for word: every probe is restored.
  ASSERT_TRUE(command_succeeded(shell(kSeedDisable)));
  for (const std::string name : {"liveness-http", "liveness-http-outer"}) {
    EXPECT_TRUE(eventually_reason(name, "DisabledGlobally", false, seed_namespace));
    const json restored = deployment(name, seed_namespace);
    EXPECT_EQ(liveness_probe(restored)["httpGet"]["port"], 8001);
    EXPECT_EQ(liveness_probe(restored)["httpGet"]["path"], "/foo");
    EXPECT_FALSE(restored["spec"]["template"]["metadata"].contains("annotations"))
        << restored["spec"]["template"].dump();
  }
  EXPECT_TRUE(
      eventually_reason("liveness-http-opt-out", "DisabledByAnnotation", false, seed_namespace));
  // ... and the reverse brings the rewrite back.
  ASSERT_TRUE(command_succeeded(shell(kSeedEnable)));
  EXPECT_TRUE(eventually_reason("liveness-http", "Rewritten", true, seed_namespace));
  EXPECT_TRUE(eventually_reason("liveness-http-outer", "Rewritten", true, seed_namespace));

  const std::string described =
      kubectl_ok({"describe", "deployment", "liveness-http", "-n", seed_namespace});
  std::cout << described;
  EXPECT_THAT(described, HasSubstr("HealthProbesRewritten"));
  EXPECT_THAT(described, HasSubstr("Rewritten"));
  EXPECT_THAT(described, HasSubstr("Restored"));

  // Cleanup: delete the namespace; the controller carries on without errors.
  kubectl_ok({"delete", "namespace", seed_namespace, "--wait=true", "--timeout=120s"});
  EXPECT_TRUE(controller().running());
  EXPECT_EQ(controller().log().find(" ERROR "), std::string::npos) << controller().log();
}

TEST_F(OperatorTest, TheMostSpecificPolicyDecides) {
  ASSERT_TRUE(apply(R"(apiVersion: meshprobe.io/v1alpha1
kind: HealthProbePolicy
metadata: {name: namespace-never}
spec: {mode: Never}
---
apiVersion: meshprobe.io/v1alpha1
kind: HealthProbePolicy
metadata: {name: web-always}
spec:
  mode: Always
  selector: {matchLabels: {app: web}}
)"));
  kubectl_ok({"apply", "-n", test_namespace(), "-f", "-"}, liveness_http("web"));
  kubectl_ok({"apply", "-n", test_namespace(), "-f", "-"}, liveness_http("other"));
  kubectl_ok({"apply", "-n", test_namespace(), "-f", "-"}, liveness_http("annotated", "true"));
  EXPECT_TRUE(eventually_reason("web", "Rewritten", true));
  EXPECT_TRUE(eventually_reason("other", "DisabledByPolicy", false));
  EXPECT_TRUE(eventually_reason("annotated", "Rewritten",
                                true));  // the template annotation wins over Never
  EXPECT_THAT(rewrite_condition(deployment("web"))["message"].get<std::string>(),
              HasSubstr("web-always"));

  EXPECT_TRUE(eventually(
      "the policies' status counts", std::chrono::seconds(30), [&]() -> ::testing::AssertionResult {
        const auto never =
            kubectl().get_json({"healthprobepolicy", "namespace-never", "-n", test_namespace()});
        const auto always =
            kubectl().get_json({"healthprobepolicy", "web-always", "-n", test_namespace()});
        if (!never.ok() || !always.ok()) return ::testing::AssertionFailure() << "not readable";
        const json never_status = never->value("status", json::object());
        const json always_status = always->value("status", json::object());
        if (never_status.value("matchedDeployments", -1) == 2 &&
            never_status.value("rewrittenDeployments", -1) == 1 &&
            always_status.value("matchedDeployments", -1) == 1 &&
            always_status.value("rewrittenDeployments", -1) == 1) {
          return ::testing::AssertionSuccess();
        }
        return ::testing::AssertionFailure() << never_status.dump() << " " << always_status.dump();
      }));
  std::cout << kubectl_ok({"get", "hpp", "-n", test_namespace()});

  // Removing the namespace policy: the global toggle decides again.
  kubectl_ok({"delete", "hpp", "namespace-never", "-n", test_namespace()});
  EXPECT_TRUE(eventually_reason("other", "Rewritten", true));
}

TEST_F(OperatorTest, WhenRequiredFollowsThePeerAuthentication) {
  ASSERT_TRUE(apply(R"(apiVersion: meshprobe.io/v1alpha1
kind: HealthProbePolicy
metadata: {name: when-required}
spec: {mode: WhenRequired}
)"));
  kubectl_ok({"apply", "-f", "-"}, strict_peer_authentication(test_namespace(), "PERMISSIVE"));
  kubectl_ok({"apply", "-n", test_namespace(), "-f", "-"}, liveness_http("web"));
  EXPECT_TRUE(eventually_reason("web", "NotRequired", false));
  kubectl_ok({"apply", "-f", "-"}, strict_peer_authentication(test_namespace(), "STRICT"));
  EXPECT_TRUE(eventually_reason("web", "Rewritten", true));
  kubectl_ok({"apply", "-f", "-"}, strict_peer_authentication(test_namespace(), "PERMISSIVE"));
  EXPECT_TRUE(eventually_reason("web", "NotRequired", false));
  EXPECT_EQ(liveness_probe(deployment("web"))["httpGet"]["port"], 8001);
}

TEST_F(OperatorTest, TheConditionSurvivesTheDeploymentControllersStatusWrites) {
  kubectl_ok({"apply", "-n", test_namespace(), "-f", "-"}, liveness_http("web"));
  ASSERT_TRUE(eventually_reason("web", "Rewritten", true));
  // Scaling makes the deployment controller write status (replicas, conditions) again.
  kubectl_ok({"scale", "deployment", "web", "-n", test_namespace(), "--replicas=3"});
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  bool controller_wrote_status = false;
  while (std::chrono::steady_clock::now() < until) {
    const json object = deployment("web");
    ASSERT_EQ(rewrite_condition(object).value("reason", ""), "Rewritten")
        << object["status"].dump();
    controller_wrote_status |= field(object, "/status/observedGeneration") == 3 &&
                               field(object, "/metadata/generation") == 3;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_TRUE(controller_wrote_status);
  bool other_status_writer = false;
  const auto with_managed_fields =
      kubectl().get_json({"deployment", "web", "-n", test_namespace(), "--show-managed-fields"});
  ASSERT_TRUE(with_managed_fields.ok());
  for (const auto& entry : (*with_managed_fields)["metadata"]["managedFields"]) {
    other_status_writer |= entry.value("manager", "") == "kube-controller-manager" &&
                           entry.value("subresource", "") == "status";
  }
  EXPECT_TRUE(other_status_writer);
}

TEST_F(OperatorTest, AConvergedDeploymentIsNeverWrittenAgainNotEvenAfterARestart) {
  kubectl_ok({"apply", "-n", test_namespace(), "-f", "-"}, liveness_http("web"));
  ASSERT_TRUE(eventually_reason("web", "Rewritten", true));
  // Let the deployment controller settle its own status first.
  std::string settled;
  ASSERT_TRUE(eventually("the resourceVersion to settle", std::chrono::seconds(60), [&] {
    const json before = field(deployment("web"), "/metadata/resourceVersion");
    std::this_thread::sleep_for(std::chrono::seconds(5));
    const json after = field(deployment("web"), "/metadata/resourceVersion");
    settled = after.is_string() ? after.get<std::string>() : "";
    return before == after && !settled.empty();
  }));
  EXPECT_EQ(deployment("web")["metadata"]["generation"], 2);  // created, then one template write
  EXPECT_EQ(metric("meshprobe_events_total{type=\"Normal\",reason=\"Rewritten\"}"), 1);

  std::this_thread::sleep_for(std::chrono::seconds(60));
  EXPECT_EQ(deployment("web")["metadata"]["resourceVersion"], settled);
  EXPECT_EQ(stop_controller(), 0);
  start_controller();
  std::this_thread::sleep_for(std::chrono::seconds(10));
  const json after = deployment("web");
  EXPECT_EQ(after["metadata"]["resourceVersion"], settled);
  EXPECT_EQ(after["metadata"]["generation"], 2);
  EXPECT_EQ(metric("meshprobe_writes_total{kind=\"template\"}"), 0);
  EXPECT_EQ(metric("meshprobe_writes_total{kind=\"status\"}"), 0);
}

TEST_F(OperatorTest, AConcurrentSetImageSurvivesTheRewrite) {
  kubectl_ok({"apply", "-n", test_namespace(), "-f", "-"}, liveness_http("web"));
  for (int tag = 1; tag <= 5; ++tag) {
    kubectl_ok({"set", "image", "deployment/web", "-n", test_namespace(),
                "liveness-http=docker.io/istio/health:v" + std::to_string(tag)});
  }
  EXPECT_TRUE(eventually_reason("web", "Rewritten", true));
  const json object = deployment("web");
  EXPECT_EQ(object["spec"]["template"]["spec"]["containers"][0]["image"],
            "docker.io/istio/health:v5");
  EXPECT_EQ(liveness_probe(object)["httpGet"]["port"], 15120);
}

TEST_F(OperatorTest, TheApiServerRejectsAnInvalidPolicyWithAClearMessage) {
  const CommandResult result = kubectl().run({"apply", "-n", test_namespace(), "-f", "-"},
                                             R"(apiVersion: meshprobe.io/v1alpha1
kind: HealthProbePolicy
metadata: {name: sometimes}
spec:
  mode: Sometimes
  probes: [liveness, heartbeat]
)");
  EXPECT_FALSE(result.succeeded());
  EXPECT_THAT(result.standard_error, HasSubstr("spec.mode: Unsupported value: \"Sometimes\""));
  EXPECT_THAT(result.standard_error, HasSubstr("heartbeat"));
}

TEST_F(OperatorTest, ABadNamedPortIsReportedOnTheConditionAndNothingBreaks) {
  std::string yaml = liveness_http("web");
  yaml.replace(yaml.find("port: 8001"), std::string("port: 8001").size(), "port: http-nope");
  kubectl_ok({"apply", "-n", test_namespace(), "-f", "-"}, yaml);
  EXPECT_TRUE(eventually_reason("web", "InvalidProbe", false));
  const json object = deployment("web");
  EXPECT_THAT(rewrite_condition(object)["message"].get<std::string>(), HasSubstr("http-nope"));
  EXPECT_EQ(object["metadata"]["generation"], 1);
  EXPECT_EQ(liveness_probe(object)["httpGet"]["port"], "http-nope");
  EXPECT_TRUE(eventually("a Warning Event", std::chrono::seconds(30), [&] {
    return kubectl_ok({"get", "events", "-n", test_namespace(), "--field-selector",
                       "reason=InvalidProbe,type=Warning", "-o", "name"}) != "";
  }));
}

TEST_F(OperatorTest, AGitOpsToolPuttingTheProbesBackThreeTimesStopsTheRewrite) {
  const std::string manifest = liveness_http("web");
  const auto gitops_apply = [&] {
    kubectl_ok({"apply", "--server-side", "--force-conflicts", "--field-manager=gitops", "-n",
                test_namespace(), "-f", "-"},
               manifest);
  };
  gitops_apply();
  ASSERT_TRUE(eventually_reason("web", "Rewritten", true));
  for (int revert = 1; revert <= 3; ++revert) {
    ASSERT_TRUE(
        eventually("the rewrite before revert " + std::to_string(revert), std::chrono::seconds(60),
                   [&] { return liveness_probe(deployment("web"))["httpGet"]["port"] == 15120; }));
    gitops_apply();
  }
  EXPECT_TRUE(eventually("reason ConflictingWriter", std::chrono::seconds(60), [&] {
    return rewrite_condition(deployment("web")).value("reason", "") == "ConflictingWriter";
  }));
  const json stopped = deployment("web");
  EXPECT_THAT(rewrite_condition(stopped)["message"].get<std::string>(), HasSubstr("\"gitops\""));
  EXPECT_EQ(liveness_probe(stopped)["httpGet"]["port"], 8001);
  EXPECT_TRUE(eventually("a Warning Event", std::chrono::seconds(30), [&] {
    return kubectl_ok({"get", "events", "-n", test_namespace(), "--field-selector",
                       "reason=ConflictingWriter,type=Warning", "-o", "name"}) != "";
  }));
  // It stays stopped, also across a restart.
  const std::string generation = stopped["metadata"]["generation"].dump();
  EXPECT_EQ(stop_controller(), 0);
  start_controller();
  std::this_thread::sleep_for(std::chrono::seconds(5));
  EXPECT_EQ(deployment("web")["metadata"]["generation"].dump(), generation);
  EXPECT_EQ(rewrite_condition(deployment("web")).value("reason", ""), "ConflictingWriter");
  // `kubectl rollout restart` asks for a retry.
  std::this_thread::sleep_for(
      std::chrono::seconds(1));  // a later managedFields second than the stop
  kubectl_ok({"rollout", "restart", "deployment/web", "-n", test_namespace()});
  EXPECT_TRUE(eventually_reason("web", "Rewritten", true));
}

}  // namespace
}  // namespace meshprobe::e2e
