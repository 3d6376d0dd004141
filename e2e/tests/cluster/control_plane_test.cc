// The control plane of e2e/cluster is real enough for meshprobe's end-to-end tests: the
// deployment controller reconciles Deployments, the real Istio CRDs validate and convert
// PeerAuthentications, and RBAC holds service-account tokens to their roles.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "harness/end_to_end_test.h"

namespace meshprobe::e2e {
namespace {

using ::testing::AssertionFailure;
using ::testing::AssertionResult;
using ::testing::AssertionSuccess;
using ::testing::HasSubstr;

constexpr std::chrono::seconds kControllerTimeout{60};

class ControlPlaneTest : public EndToEndTest {};

bool owned_by(const nlohmann::json& object, const std::string& kind, const std::string& name) {
  for (const auto& owner : object["metadata"].value("ownerReferences", nlohmann::json::array())) {
    if (owner.value("kind", "") == kind && owner.value("name", "") == name &&
        owner.value("controller", false)) {
      return true;
    }
  }
  return false;
}

TEST_F(ControlPlaneTest, DeploymentGetsReplicaSetPodsAndStatusFromTheDeploymentController) {
  ASSERT_TRUE(apply(R"(
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
)"));

  std::string replica_set;
  ASSERT_TRUE(
      eventually("a ReplicaSet of Deployment web", kControllerTimeout, [&]() -> AssertionResult {
        auto list = kubectl().get_json({"replicasets", "--namespace", test_namespace()});
        if (!list.ok()) return AssertionFailure() << list.error().message;
        for (const auto& item : (*list)["items"]) {
          if (owned_by(item, "Deployment", "web") && item["spec"].value("replicas", 0) == 2) {
            replica_set = item["metadata"]["name"];
            return AssertionSuccess();
          }
        }
        return AssertionFailure() << "replicasets: " << list->dump();
      }));

  EXPECT_TRUE(eventually(
      "two Pending Pods of that ReplicaSet", kControllerTimeout, [&]() -> AssertionResult {
        auto list =
            kubectl().get_json({"pods", "--namespace", test_namespace(), "--selector", "app=web"});
        if (!list.ok()) return AssertionFailure() << list.error().message;
        int owned = 0;
        for (const auto& item : (*list)["items"]) {
          // Without a scheduler and a kubelet they stay Pending.
          if (owned_by(item, "ReplicaSet", replica_set) &&
              item["status"].value("phase", "") == "Pending")
            ++owned;
        }
        if (owned == 2) return AssertionSuccess();
        return AssertionFailure() << "pods: " << list->dump();
      }));

  EXPECT_TRUE(eventually(
      "the deployment controller's status", kControllerTimeout, [&]() -> AssertionResult {
        auto deployment = kubectl().get_json(
            {"deployment", "web", "--namespace", test_namespace(), "--show-managed-fields"});
        if (!deployment.ok()) return AssertionFailure() << deployment.error().message;
        const auto& status = (*deployment)["status"];
        bool written_by_controller = false;
        for (const auto& entry : (*deployment)["metadata"]["managedFields"]) {
          written_by_controller |= entry.value("manager", "") == "kube-controller-manager" &&
                                   entry.value("subresource", "") == "status";
        }
        bool progressing = false;
        for (const auto& condition : status.value("conditions", nlohmann::json::array())) {
          progressing |= condition.value("type", "") == "Progressing" &&
                         condition.value("status", "") == "True";
        }
        if (written_by_controller && progressing &&
            status.value("observedGeneration", 0) ==
                (*deployment)["metadata"].value("generation", -1) &&
            status.value("replicas", 0) == 2 && status.value("updatedReplicas", 0) == 2) {
          return AssertionSuccess();
        }
        return AssertionFailure() << "deployment: " << deployment->dump();
      }));
}

// The seed page's policy, as it applies it: security.istio.io/v1beta1.
constexpr const char* kStrictPeerAuthentication = R"(
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata:
  name: "default"
spec:
  mtls:
    mode: STRICT
)";

TEST_F(ControlPlaneTest, StrictPeerAuthenticationAppliesAsV1beta1AndReadsBackAsV1) {
  ASSERT_TRUE(apply(kStrictPeerAuthentication));

  for (const std::string version : {"v1", "v1beta1"}) {
    auto policy = kubectl().get_json({"peerauthentications." + version + ".security.istio.io",
                                      "default", "--namespace", test_namespace()});
    ASSERT_TRUE(policy.ok()) << policy.error().message;
    EXPECT_EQ((*policy)["apiVersion"], "security.istio.io/" + version);
    EXPECT_EQ((*policy)["spec"]["mtls"]["mode"], "STRICT") << policy->dump();
  }
}

TEST_F(ControlPlaneTest, IstioSchemaRejectsAnUnknownMtlsMode) {
  CommandResult result =
      kubectl().run({"apply", "--server-side", "--namespace", test_namespace(), "--filename", "-"},
                    R"(
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: "default"
spec:
  mtls:
    mode: STRIKT
)");
  EXPECT_FALSE(result.succeeded()) << result.standard_output;
  EXPECT_THAT(result.standard_error, HasSubstr("spec.mtls.mode"));
}

TEST_F(ControlPlaneTest, ServiceAccountTokenIsAllowedInsideItsRoleAndForbiddenOutside) {
  auto kubeconfig = service_account_kubeconfig(
      "reader", {{.api_groups = {""}, .resources = {"configmaps"}, .verbs = {"get", "list"}}});
  ASSERT_TRUE(kubeconfig.ok()) << kubeconfig.error().message;
  Kubectl reader(cluster().kubectl, *kubeconfig);

  CommandResult identity =
      reader.run({"auth", "whoami", "--output=jsonpath={.status.userInfo.username}"});
  ASSERT_TRUE(command_succeeded(identity));
  EXPECT_EQ(identity.standard_output, "system:serviceaccount:" + test_namespace() + ":reader");

  EXPECT_TRUE(
      command_succeeded(reader.run({"get", "configmaps", "--namespace", test_namespace()})));
  EXPECT_TRUE(command_succeeded(
      reader.run({"get", "configmap", "kube-root-ca.crt", "--namespace", test_namespace()})));

  const std::vector<std::vector<std::string>> outside_the_role = {
      {"get", "secrets", "--namespace", test_namespace()},                  // another resource
      {"create", "configmap", "written", "--namespace", test_namespace()},  // another verb
      {"get", "configmaps", "--namespace", "default"},                      // another namespace
      {"get", "namespaces"},                                                // cluster scope
  };
  for (const auto& arguments : outside_the_role) {
    CommandResult result = reader.run(arguments);
    EXPECT_FALSE(result.succeeded()) << result.command_line;
    EXPECT_THAT(result.standard_error, HasSubstr("forbidden")) << result.command_line;
  }
}

}  // namespace
}  // namespace meshprobe::e2e
