// config/rbac covers exactly the API calls the controller makes: the real controller (the
// Operator and the LeaderElector, wired as main() wires them) runs through every path that
// writes (a Deployment rewritten with its condition and Event, a HealthProbePolicy's status,
// the injector ConfigMap created and filled in, the Lease acquired and renewed) with the
// ServiceAccount's token, behind a decorator that records each call; then every recorded call
// must be allowed by a rule of config/rbac (in the rule's namespace and resourceNames), and
// every verb a rule grants must have been used.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "cmd/build_info.h"
#include "kube/leader_election.h"
#include "operator/operator.h"
#include "operator_fixture.h"
#include "recording_api.h"
#include "tests/kube/connection.h"

namespace meshprobe::e2e {
namespace {

using nlohmann::json;

struct RbacRule {
  std::string namespace_name;  // "" for a ClusterRole
  std::set<std::string> groups;
  std::set<std::string> resources;
  std::set<std::string> names;  // resourceNames; empty: any
  std::set<std::string> verbs;
};

std::set<std::string> strings(const YAML::Node& node) {
  std::set<std::string> out;
  for (const auto& item : node) out.insert(item.as<std::string>());
  return out;
}

std::vector<RbacRule> rules_of(const std::string& directory) {
  std::vector<RbacRule> rules;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    if (entry.path().filename() == "kustomization.yaml") continue;
    for (const auto& document : YAML::LoadAllFromFile(entry.path().string())) {
      const std::string kind = document["kind"].as<std::string>("");
      if (kind != "ClusterRole" && kind != "Role") continue;
      for (const auto& rule : document["rules"]) {
        rules.push_back({kind == "Role" ? document["metadata"]["namespace"].as<std::string>() : "",
                         strings(rule["apiGroups"]), strings(rule["resources"]),
                         strings(rule["resourceNames"]), strings(rule["verbs"])});
      }
    }
  }
  return rules;
}

bool allows(const RbacRule& rule, const RecordedCall& call) {
  return (rule.namespace_name.empty() || rule.namespace_name == call.namespace_name) &&
         rule.groups.contains(call.group) && rule.resources.contains(call.resource) &&
         rule.verbs.contains(call.verb) &&
         (rule.names.empty() || (!call.name.empty() && rule.names.contains(call.name)));
}

std::string describe(const RecordedCall& call) {
  return call.verb + " " + (call.group.empty() ? "core" : call.group) + "/" + call.resource +
         (call.namespace_name.empty() ? "" : " in " + call.namespace_name) +
         (call.name.empty() ? "" : " named " + call.name);
}

class RbacTest : public OperatorEndToEndTest {
 protected:
  // This test wires the controller in process instead (it needs the decorator).
  void SetUp() override {
    set_up_install();
    // So that the Lease is created, too (no controller runs now).
    kubectl_ok({"delete", "lease", "meshprobe-controller", "-n", "meshprobe-system",
                "--ignore-not-found"});
  }
};

TEST_F(RbacTest, ConfigRbacCoversExactlyTheCallsTheControllerMakes) {
  auto kubeconfig = token_kubeconfig("meshprobe-system", "meshprobe-controller");
  ASSERT_TRUE(kubeconfig.ok()) << kubeconfig.error().message;
  auto connection = connect(*kubeconfig);
  ASSERT_TRUE(connection.ok()) << connection.error().message;
  RecordingKubernetesApi api(*(*connection)->api);
  kube::RealClock& clock = (*connection)->clock;
  controller::OperatorOptions options;
  options.workloads.agent = {cmd::default_agent_image(), probe::kDefaultAgentPort};
  options.identity = "rbac-test";
  // Argo Rollouts' CRD, so that the Rollout calls are made (and granted) too.
  kubectl_ok({"apply", "--server-side", "--field-manager=meshprobe-e2e", "-f",
              cluster().argo_rollouts_crd_file});
  // (`kubectl wait` fails at once while the new CRD has no status yet.)
  ASSERT_TRUE(eventually("the Rollout CRD established", std::chrono::seconds(60), [&] {
    return kubectl()
               .run({"get", "crd", "rollouts.argoproj.io", "-o",
                     R"(jsonpath={.status.conditions[?(@.type=="Established")].status})"})
               .standard_output == "True";
  }));
  controller::Operator meshprobe_operator(api, api, options, clock, (*connection)->random,
                                          (*connection)->metrics, (*connection)->logger);
  std::atomic<bool> renewed{false};
  kube::LeaderElectionConfig lease{
      "meshprobe-system",      "meshprobe-controller",  "rbac-test",
      std::chrono::seconds(3), std::chrono::seconds(2), std::chrono::milliseconds(500)};
  kube::LeaderCallbacks callbacks;
  callbacks.on_started_leading = [&](std::stop_token) { meshprobe_operator.start_workers(); };
  kube::LeaderElector elector(api, lease, callbacks, clock, (*connection)->random,
                              (*connection)->metrics, (*connection)->logger);
  meshprobe_operator.start_informers();
  ASSERT_TRUE(meshprobe_operator.wait_for_sync(std::stop_token()));
  elector.start();

  // Every path that writes: the ConfigMap is created (it was deleted in SetUp) ...
  ASSERT_TRUE(eventually("the injector ConfigMap", std::chrono::seconds(30), [&] {
    return kubectl()
        .run({"get", "configmap", "istio-sidecar-injector", "-n", "istio-system"})
        .succeeded();
  }));
  // ... and filled in when a user's edit drops the field;
  kubectl_ok({"patch", "configmap", "istio-sidecar-injector", "-n", "istio-system", "--type=merge",
              "-p", R"({"data": {"values": "{\"global\": {}}"}})"});
  ASSERT_TRUE(eventually("the field filled in again", std::chrono::seconds(30), [&] {
    return kubectl_ok({"get", "configmap", "istio-sidecar-injector", "-n", "istio-system", "-o",
                       "jsonpath={.data.values}"})
               .find("rewriteAppHTTPProbe") != std::string::npos;
  }));
  // a policy's status, a Deployment's template, condition and Event;
  ASSERT_TRUE(apply(R"(apiVersion: meshprobe.io/v1alpha1
kind: HealthProbePolicy
metadata: {name: always}
spec: {mode: Always}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: web:1
        livenessProbe: {httpGet: {path: /healthz, port: 8080}}
)"));
  EXPECT_TRUE(eventually_reason("web", "Rewritten", true));
  // every other kind's template and state (a CronJob's and a StatefulSet's annotations);
  ASSERT_TRUE(apply(R"(apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: db:1, livenessProbe: {httpGet: {path: /, port: 80}}}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node}
spec:
  selector: {matchLabels: {app: node}}
  template:
    metadata: {labels: {app: node}}
    spec: {containers: [{name: node, image: n:1, livenessProbe: {httpGet: {path: /, port: 80}}}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        metadata: {labels: {app: nightly}}
        spec:
          restartPolicy: OnFailure
          containers: [{name: job, image: j:1, livenessProbe: {httpGet: {path: /, port: 80}}}]
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: canary}
spec:
  selector: {matchLabels: {app: canary}}
  strategy: {canary: {steps: [{setWeight: 50}]}}
  template:
    metadata: {labels: {app: canary}}
    spec: {containers: [{name: web, image: w:1, livenessProbe: {httpGet: {path: /, port: 80}}}]}
)"));
  for (const std::string resource : {"daemonset/node", "rollouts.argoproj.io/canary"}) {
    EXPECT_TRUE(eventually(resource + " rewritten", std::chrono::seconds(60), [&] {
      return kubectl_ok(
                 {"get", resource, "-n", test_namespace(), "-o",
                  R"(jsonpath={.status.conditions[?(@.type=="HealthProbesRewritten")].reason})"}) ==
             "Rewritten";
    }));
  }
  for (const std::string resource : {"cronjob/nightly", "statefulset/db"}) {
    EXPECT_TRUE(eventually(resource + " rewritten", std::chrono::seconds(60), [&] {
      return kubectl_ok(
                 {"get", resource, "-n", test_namespace(), "-o",
                  R"(jsonpath={.metadata.annotations.meshprobe\.io/health-probes-reason})"}) ==
             "Rewritten";
    }));
  }
  EXPECT_TRUE(eventually("the policy's status", std::chrono::seconds(30), [&] {
    return kubectl_ok({"get", "hpp", "always", "-n", test_namespace(), "-o",
                       "jsonpath={.status.matchedWorkloads}"}) == "5";
  }));
  // the Lease renewed (an update after its creation).
  std::this_thread::sleep_for(std::chrono::seconds(2));
  elector.stop();
  meshprobe_operator.stop();

  const auto rules = rules_of(source_directory() + "/config/rbac");
  ASSERT_FALSE(rules.empty());
  std::set<std::tuple<std::string, std::string, std::string, std::string>>
      used;  // namespace, group, resource, verb
  for (const auto& call : api.calls()) {
    bool allowed = false;
    for (const auto& rule : rules) {
      if (!allows(rule, call)) continue;
      allowed = true;
      used.insert({rule.namespace_name, call.group, call.resource, call.verb});
    }
    EXPECT_TRUE(allowed) << "config/rbac does not allow " << describe(call);
  }
  for (const auto& rule : rules) {
    for (const auto& group : rule.groups) {
      for (const auto& resource : rule.resources) {
        for (const auto& verb : rule.verbs) {
          EXPECT_TRUE(used.contains({rule.namespace_name, group, resource, verb}))
              << "config/rbac grants " << verb << " " << (group.empty() ? "core" : group) << "/"
              << resource << (rule.namespace_name.empty() ? "" : " in " + rule.namespace_name)
              << ", which the controller never uses";
        }
      }
    }
  }
  for (const auto& call : api.calls()) std::cout << "  " << describe(call) << "\n";
}

}  // namespace
}  // namespace meshprobe::e2e
