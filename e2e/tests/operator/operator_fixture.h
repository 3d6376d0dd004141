// The operator's end-to-end fixture: the real control plane, meshprobe's CRD and RBAC from
// crds/ and config/rbac installed as a user installs them, and `meshprobe controller` running
// out of cluster as a child process with exactly that RBAC (a token of the ServiceAccount
// meshprobe-system/meshprobe-controller), short leader-election timings, and /metrics on a
// free port. Every test starts from the global toggle's default: the injector ConfigMap is
// deleted before the controller starts (the controller creates it again, rewriting on).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "controller_process.h"
#include "harness/end_to_end_test.h"
#include "harness/eventually.h"

namespace meshprobe::e2e {

// The member at a JSON pointer ("/status/conditions"), or null when any step is missing.
nlohmann::json field(const nlohmann::json& object, const std::string& pointer);

class OperatorEndToEndTest : public EndToEndTest {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Installs the CRD, namespaces and RBAC; resets the global toggle (deletes the ConfigMap).
  void set_up_install();
  // Starts the controller and waits until it leads; stop_controller() is SIGTERM and wait.
  // Rollout pacing is off unless `extra_arguments` say otherwise: without a schedulable node
  // (the node is tainted for tests/node) no rollout ever finishes.
  void start_controller(const std::vector<std::string>& extra_arguments = {});
  int stop_controller();
  ControllerProcess& controller() { return *controller_; }

  // `kubectl get deployment NAME -o json` in `namespace_name` (default: the test's).
  nlohmann::json deployment(const std::string& name, const std::string& namespace_name = "") const;
  // The Deployment's HealthProbesRewritten condition, or an empty object.
  static nlohmann::json rewrite_condition(const nlohmann::json& deployment);
  // Whether its template has the meshprobe agent.
  static bool has_agent(const nlohmann::json& deployment);
  // Eventually the condition has `reason` (and the template the agent exactly when `agent`).
  ::testing::AssertionResult eventually_reason(
      const std::string& name, const std::string& reason, bool agent,
      const std::string& namespace_name = "",
      std::chrono::seconds timeout = std::chrono::seconds(60)) const;
  // kubectl as the administrator, failing the test when it fails; its standard output.
  std::string kubectl_ok(const std::vector<std::string>& arguments,
                         std::string_view input = {}) const;
  // A shell pipeline as a user types it, with kubectl on the PATH and the admin kubeconfig.
  CommandResult shell(const std::string& script) const;
  // One sample of a metric from the controller's /metrics ("name{labels}" as printed); 0 when
  // the series is absent (a counter never incremented).
  double metric(const std::string& series) const;

  std::string source_directory() const { return MESHPROBE_SOURCE_DIR; }

 private:
  std::unique_ptr<ControllerProcess> controller_;
  int metrics_port_ = 0;
};

}  // namespace meshprobe::e2e
