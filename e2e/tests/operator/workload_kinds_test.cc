// Every workload kind on the real control plane (issue 14): StatefulSets, DaemonSets and
// CronJobs rewritten and restored like Deployments, each reporting its state where its kind
// can (a condition; a CronJob's annotations), a template owned by another controller left
// alone, OnDelete reported, the documented command listing every workload's state, and Argo
// Rollouts picked up when their CRD arrives after the controller started. The namespaces are
// in the mesh (istio-injection=enabled), so the tests hold whatever the default scope is.
#include <gmock/gmock.h>

#include <iostream>

#include "operator_fixture.h"

namespace meshprobe::e2e {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// The pod template every workload here has: an HTTP liveness probe.
std::string pod_template(const std::string& app, const std::string& indent) {
  std::string text = R"(metadata:
  labels: {app: )" + app +
                     R"(}
spec:
  containers:
  - name: web
    image: web:1
    ports: [{containerPort: 8080}]
    livenessProbe: {httpGet: {path: /healthz, port: 8080}}
)";
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    out += indent + text.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out;
}

std::string stateful_set(const std::string& name, const std::string& strategy = "RollingUpdate",
                         const std::string& owner = "") {
  return "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: " + name + "\n" + owner +
         "spec:\n  serviceName: " + name + "\n  selector: {matchLabels: {app: " + name +
         "}}\n  updateStrategy: {type: " + strategy + "}\n  template:\n" +
         pod_template(name, "    ");
}

std::string daemon_set(const std::string& name, const std::string& strategy) {
  return "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: " + name +
         "\nspec:\n  selector: {matchLabels: {app: " + name +
         "}}\n  updateStrategy: {type: " + strategy + "}\n  template:\n" +
         pod_template(name, "    ");
}

std::string cron_job(const std::string& name) {
  std::string yaml = "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: " + name +
                     "\nspec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n"
                     "      template:\n" +
                     pod_template(name, "        ");
  // A Job's Pods must not restart forever: restartPolicy next to containers.
  const auto containers = yaml.find("containers:");
  const auto line_start = yaml.rfind('\n', containers) + 1;
  const std::string indent = yaml.substr(line_start, containers - line_start);
  return yaml.insert(line_start, indent + "restartPolicy: OnFailure\n");
}

std::string rollout(const std::string& name) {
  return "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: " + name +
         "\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: " + name +
         "}}\n  strategy: {canary: {steps: [{setWeight: 50}]}}\n  template:\n" +
         pod_template(name, "    ");
}

bool agent_in(const json& pod_template) {
  const json init_containers = field(pod_template, "/spec/initContainers");
  if (!init_containers.is_array()) return false;
  for (const auto& container : init_containers) {
    if (container.value("name", "") == "meshprobe-agent") return true;
  }
  return false;
}

// The HealthProbesRewritten condition of a served object, or the CronJob's annotations as one.
json state_of(const json& object) {
  const json annotations = field(object, "/metadata/annotations");
  // CronJobs and StatefulSets carry it in annotations (docs/workloads.md "State per kind").
  if (object.value("kind", "") == "CronJob" || object.value("kind", "") == "StatefulSet") {
    if (!annotations.is_object() || !annotations.contains("meshprobe.io/health-probes-reason"))
      return json::object();
    return {{"status", annotations.value("meshprobe.io/health-probes-rewritten", "")},
            {"reason", annotations.value("meshprobe.io/health-probes-reason", "")},
            {"message", annotations.value("meshprobe.io/health-probes-message", "")}};
  }
  const json conditions = field(object, "/status/conditions");
  if (conditions.is_array()) {
    for (const auto& condition : conditions) {
      if (condition.value("type", "") == "HealthProbesRewritten") return condition;
    }
  }
  return json::object();
}

std::string template_pointer(const std::string& kind) {
  return kind == "CronJob" ? "/spec/jobTemplate/spec/template" : "/spec/template";
}

class WorkloadKindsTest : public OperatorEndToEndTest {
 protected:
  void SetUp() override {
    OperatorEndToEndTest::SetUp();
    kubectl_ok({"label", "namespace", test_namespace(), "istio-injection=enabled"});
  }

  json object(const std::string& resource, const std::string& name) const {
    auto found = kubectl().get_json({resource, name, "--namespace", test_namespace()});
    return found.ok() ? *found : json();
  }

  // Eventually `resource/name` reports `reason`, with the agent in its template exactly when
  // `agent`.
  ::testing::AssertionResult eventually_state(
      const std::string& resource, const std::string& name, const std::string& reason, bool agent,
      std::chrono::seconds timeout = std::chrono::seconds(60)) const {
    return eventually(resource + " " + name + " to report " + reason, timeout,
                      [&]() -> ::testing::AssertionResult {
                        const json served = object(resource, name);
                        const json state = state_of(served);
                        const bool has_agent =
                            agent_in(field(served, template_pointer(served.value("kind", ""))));
                        if (state.value("reason", "") == reason && has_agent == agent)
                          return ::testing::AssertionSuccess();
                        return ::testing::AssertionFailure()
                               << "state " << state.dump() << ", agent " << has_agent;
                      });
  }
};

// The command docs/workloads.md gives for every workload's state, whatever its kind.
const char* kListEveryWorkload =
    R"(kubectl get deployments,statefulsets,daemonsets,cronjobs --all-namespaces -o jsonpath='{range .items[*]}{.kind}{"\t"}{.metadata.namespace}/{.metadata.name}{"\t"}{.status.conditions[?(@.type=="HealthProbesRewritten")].reason}{.metadata.annotations.meshprobe\.io/health-probes-reason}{"\n"}{end}')";

TEST_F(WorkloadKindsTest, StatefulSetsDaemonSetsAndCronJobsAreRewrittenRestoredAndReported) {
  ASSERT_TRUE(apply(stateful_set("db")));
  ASSERT_TRUE(apply(daemon_set("node-agent", "OnDelete")));
  ASSERT_TRUE(apply(cron_job("nightly")));

  EXPECT_TRUE(eventually_state("statefulset", "db", "Rewritten", true));
  EXPECT_TRUE(eventually_state("daemonset", "node-agent", "Rewritten", true));
  EXPECT_TRUE(eventually_state("cronjob", "nightly", "Rewritten", true));
  const json db = object("statefulset", "db");
  EXPECT_EQ(field(db, "/spec/template/spec/containers/0/livenessProbe/httpGet/path"),
            "/app-health/web/livez");
  EXPECT_EQ(state_of(db)["status"], "True");
  EXPECT_TRUE(field(db, "/status/conditions").is_null());  // nothing for its controller to drop
  EXPECT_THAT(state_of(object("daemonset", "node-agent"))["message"].get<std::string>(),
              HasSubstr("its Pods pick the change up when they are recreated"));
  EXPECT_EQ(field(object("cronjob", "nightly"),
                  "/spec/jobTemplate/spec/template/spec/containers/0/livenessProbe/httpGet/port"),
            15120);

  // One template write per workload, and an Event on each.
  const std::string events =
      kubectl_ok({"get", "events.events.k8s.io", "--namespace", test_namespace(), "-o",
                  "jsonpath={range .items[*]}{.regarding.kind}/{.reason} {end}"});
  EXPECT_THAT(events, HasSubstr("StatefulSet/Rewritten"));
  EXPECT_THAT(events, HasSubstr("DaemonSet/Rewritten"));
  EXPECT_THAT(events, HasSubstr("CronJob/Rewritten"));
  EXPECT_EQ(db["metadata"]["generation"], 2);

  // The documented command lists every workload's state, whatever its kind.
  const CommandResult listed =
      shell(std::string(kListEveryWorkload) + " | grep " + test_namespace());
  ASSERT_TRUE(command_succeeded(listed));
  std::cout << listed.standard_output;
  EXPECT_THAT(listed.standard_output,
              HasSubstr("StatefulSet\t" + test_namespace() + "/db\tRewritten"));
  EXPECT_THAT(listed.standard_output,
              HasSubstr("DaemonSet\t" + test_namespace() + "/node-agent\tRewritten"));
  EXPECT_THAT(listed.standard_output,
              HasSubstr("CronJob\t" + test_namespace() + "/nightly\tRewritten"));

  // Opting one out by its template annotation restores it (the policy and the toggle are
  // covered by the Deployment tests; the path is the same). The user's "false" over meshprobe's
  // hold ("False") is a change, and the user's (docs/istio.md).
  kubectl_ok(
      {"patch", "statefulset", "db", "--namespace", test_namespace(), "--type=merge", "-p",
       R"({"spec":{"template":{"metadata":{"annotations":{"sidecar.istio.io/rewriteAppHTTPProbers":"false"}}}}})"});
  kubectl_ok(
      {"patch", "cronjob", "nightly", "--namespace", test_namespace(), "--type=merge", "-p",
       R"({"spec":{"jobTemplate":{"spec":{"template":{"metadata":{"annotations":{"sidecar.istio.io/rewriteAppHTTPProbers":"false"}}}}}}})"});
  EXPECT_TRUE(eventually_state("statefulset", "db", "DisabledByAnnotation", false));
  EXPECT_TRUE(eventually_state("cronjob", "nightly", "DisabledByAnnotation", false));
  EXPECT_EQ(field(object("statefulset", "db"),
                  "/spec/template/spec/containers/0/livenessProbe/httpGet/port"),
            8080);

  // Converged: nothing more is written.
  const std::string version = object("cronjob", "nightly")["metadata"]["resourceVersion"];
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(object("cronjob", "nightly")["metadata"]["resourceVersion"], version);
  EXPECT_EQ(controller().log().find(" ERROR "), std::string::npos) << controller().log();
}

TEST_F(WorkloadKindsTest, ATemplateOwnedByAnotherControllerIsLeftAloneAndSaysWhy) {
  kubectl_ok({"create", "configmap", "operator-owner", "--namespace", test_namespace()});
  const std::string uid = kubectl_ok({"get", "configmap", "operator-owner", "--namespace",
                                      test_namespace(), "-o", "jsonpath={.metadata.uid}"});
  ASSERT_TRUE(apply(stateful_set("owned", "RollingUpdate",
                                 "  ownerReferences:\n  - {apiVersion: v1, kind: ConfigMap, name: "
                                 "operator-owner, uid: " +
                                     uid + ", controller: true}\n")));
  EXPECT_TRUE(eventually_state("statefulset", "owned", "OwnedByController", false));
  const json state = state_of(object("statefulset", "owned"));
  EXPECT_EQ(state["status"], "False");
  EXPECT_THAT(state["message"].get<std::string>(), HasSubstr("ConfigMap/operator-owner"));
  EXPECT_EQ(object("statefulset", "owned")["metadata"]["generation"], 1);
}

// Installs the Rollout CRD of the pinned Argo Rollouts module, after deleting it when an earlier
// test left it (its Rollouts go with it).
class RolloutCrdTest : public WorkloadKindsTest {
 protected:
  void SetUp() override {
    set_up_install();
    if (HasFatalFailure()) return;
    ASSERT_FALSE(cluster().argo_rollouts_crd_file.empty());
    kubectl_ok({"delete", "crd", "rollouts.argoproj.io", "--ignore-not-found", "--wait=true",
                "--timeout=120s"});
    start_controller();
    kubectl_ok({"label", "namespace", test_namespace(), "istio-injection=enabled"});
  }
};

TEST_F(RolloutCrdTest, RolloutsArePickedUpWhenTheirCrdArrivesAfterTheStart) {
  kubectl_ok({"apply", "--server-side", "--field-manager=meshprobe-e2e", "-f",
              cluster().argo_rollouts_crd_file});
  // (`kubectl wait` fails at once while the new CRD has no status yet.)
  ASSERT_TRUE(eventually("the Rollout CRD established", std::chrono::seconds(60), [&] {
    return kubectl()
               .run({"get", "crd", "rollouts.argoproj.io", "-o",
                     R"(jsonpath={.status.conditions[?(@.type=="Established")].status})"})
               .standard_output == "True";
  }));
  ASSERT_TRUE(apply(rollout("canary")));
  // A Rollout with workloadRef has no template: its Deployment is rewritten as a Deployment.
  ASSERT_TRUE(apply(R"(apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: referring}
spec:
  selector: {matchLabels: {app: referring}}
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: referred}
  strategy: {canary: {steps: [{setWeight: 50}]}}
)"));
  // Discovery is asked again every 30 s.
  EXPECT_TRUE(eventually_state("rollouts.argoproj.io", "canary", "Rewritten", true,
                               std::chrono::seconds(90)));
  const json canary = object("rollouts.argoproj.io", "canary");
  EXPECT_EQ(field(canary, "/spec/template/spec/containers/0/livenessProbe/httpGet/path"),
            "/app-health/web/livez");
  EXPECT_TRUE(state_of(canary).contains("lastUpdateTime"));
  EXPECT_TRUE(state_of(object("rollouts.argoproj.io", "referring")).empty());
  EXPECT_EQ(controller().log().find(" ERROR "), std::string::npos) << controller().log();
  kubectl_ok({"delete", "crd", "rollouts.argoproj.io", "--wait=true", "--timeout=120s"});
}

}  // namespace
}  // namespace meshprobe::e2e

namespace meshprobe::e2e {
namespace {

// Pacing on the control plane without a schedulable node: no rollout ever finishes, so every
// slot is freed by the deadline alone. With maxConcurrentRollouts 2, two of five Deployments are
// rewritten at first and the other three wait, saying so; each deadline lets the next ones go.
class PacingTest : public WorkloadKindsTest {
 protected:
  void SetUp() override {
    set_up_install();
    if (HasFatalFailure()) return;
    start_controller({"--max-concurrent-rollouts", "2", "--rollout-deadline", "15s"});
    kubectl_ok({"label", "namespace", test_namespace(), "istio-injection=enabled"});
  }
};

TEST_F(PacingTest, AtMostTheLimitRollsOutAndTheDeadlineLetsTheRestThrough) {
  std::string manifests;
  for (int i = 0; i < 5; ++i) {
    const std::string name = "paced-" + std::to_string(i);
    manifests += "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name +
                 "\nspec:\n  selector: {matchLabels: {app: " + name + "}}\n  template:\n" +
                 pod_template(name, "    ");
  }
  ASSERT_TRUE(apply(manifests));
  const auto count = [&](const std::string& reason) {
    int found = 0;
    for (int i = 0; i < 5; ++i) {
      if (state_of(object("deployment", "paced-" + std::to_string(i))).value("reason", "") ==
          reason)
        ++found;
    }
    return found;
  };
  ASSERT_TRUE(eventually("two rewritten and three waiting", std::chrono::seconds(30),
                         [&]() -> ::testing::AssertionResult {
                           const int rewritten = count("Rewritten");
                           const int queued = count("RolloutQueued");
                           if (rewritten == 2 && queued == 3) return ::testing::AssertionSuccess();
                           return ::testing::AssertionFailure()
                                  << rewritten << " rewritten, " << queued << " queued";
                         }));
  EXPECT_EQ(metric("meshprobe_rollouts_in_progress"), 2);
  EXPECT_EQ(metric("meshprobe_rollouts_waiting"), 3);
  EXPECT_THAT(state_of(object("deployment", "paced-4"))["message"].get<std::string>(),
              HasSubstr("maxConcurrentRollouts"));
  // Sampled until all converge: never more than two rewritten within one deadline... the
  // bound is on rollouts in progress, which the metric reports.
  ASSERT_TRUE(eventually("all five rewritten", std::chrono::seconds(120),
                         [&]() -> ::testing::AssertionResult {
                           EXPECT_LE(metric("meshprobe_rollouts_in_progress"), 2);
                           const int rewritten = count("Rewritten");
                           if (rewritten == 5) return ::testing::AssertionSuccess();
                           return ::testing::AssertionFailure() << rewritten << " rewritten";
                         }));
  EXPECT_GE(metric("meshprobe_rollouts_timed_out_total"), 3);
  const std::string events =
      kubectl_ok({"get", "events.events.k8s.io", "--namespace", test_namespace(), "-o",
                  "jsonpath={range .items[*]}{.reason} {end}"});
  EXPECT_THAT(events, HasSubstr("RolloutDeadlineExceeded"));
}

}  // namespace
}  // namespace meshprobe::e2e
