// The GoogleTest fixture of the end-to-end tests: the running cluster, a fresh namespace per
// test (deleted afterwards), admin kubectl, and service-account identities held to RBAC.
//
//   class MyFeatureTest : public meshprobe::e2e::EndToEndTest {};
//   TEST_F(MyFeatureTest, DoesIt) {
//     ASSERT_TRUE(apply(R"(apiVersion: v1
//   kind: ConfigMap
//   metadata: {name: settings}
//   )"));
//     EXPECT_TRUE(eventually("settings to exist", std::chrono::seconds(30),
//                            [&] { return kubectl().run({"get", "configmap", "settings",
//                                                        "-n", test_namespace()}).succeeded(); }));
//   }
//
// Without a cluster (MESHPROBE_E2E_* unset) every test fails with a message that says how to
// run it; nothing is skipped.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/cluster.h"
#include "harness/command.h"
#include "harness/eventually.h"
#include "probe/result.h"

namespace meshprobe::e2e {

// One rule of an RBAC Role (rbac.authorization.k8s.io/v1 PolicyRule); "" is the core group.
struct PolicyRule {
  std::vector<std::string> api_groups;
  std::vector<std::string> resources;
  std::vector<std::string> verbs;
};

class EndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  const Cluster& cluster() const { return *cluster_; }
  // kubectl as the cluster's administrator (system:masters).
  const Kubectl& kubectl() const { return *kubectl_; }
  // This test's own namespace, e.g. "e2e-controlplanetest-appliesit-x7k2q".
  const std::string& test_namespace() const { return namespace_; }

  // `kubectl apply --server-side` of `yaml` (one or more documents) into the test namespace.
  ::testing::AssertionResult apply(std::string_view yaml) const;

  // Creates ServiceAccount `name` in the test namespace, a Role of the same name with `rules`
  // and a RoleBinding between them; returns the path of a kubeconfig that authenticates as
  // that ServiceAccount with a token (TokenRequest, valid for an hour).
  Result<std::string> service_account_kubeconfig(const std::string& name,
                                                 const std::vector<PolicyRule>& rules) const;
  // The path of a kubeconfig with a token of an existing ServiceAccount (bound by the test,
  // e.g. to a ClusterRole); its context's namespace is the ServiceAccount's.
  Result<std::string> token_kubeconfig(const std::string& service_account_namespace,
                                       const std::string& service_account) const;

 private:
  std::optional<Cluster> cluster_;
  std::optional<Kubectl> kubectl_;
  std::string namespace_;
};

}  // namespace meshprobe::e2e
