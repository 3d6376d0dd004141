#include "operator_fixture.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "harness/command.h"

namespace meshprobe::e2e {

using nlohmann::json;

void OperatorEndToEndTest::SetUp() {
  set_up_install();
  if (HasFatalFailure()) return;
  start_controller();
}

void OperatorEndToEndTest::set_up_install() {
  EndToEndTest::SetUp();
  if (HasFatalFailure()) return;
  const std::string source = source_directory();
  kubectl_ok({"apply", "-f", source + "/crds/meshprobe.io_healthprobepolicies.yaml"});
  kubectl_ok({"wait", "--for", "condition=established", "crd/healthprobepolicies.meshprobe.io",
              "--timeout=60s"});
  kubectl_ok({"apply", "-f", source + "/config/manager/namespace.yaml"});
  shell("kubectl create namespace istio-system --dry-run=client -o yaml | kubectl apply -f -");
  kubectl_ok({"apply", "-k", source + "/config/rbac"});
  kubectl_ok({"delete", "healthprobepolicies", "--all", "--namespace", "istio-system"});
  kubectl_ok({"delete", "configmap", "istio-sidecar-injector", "--namespace", "istio-system",
              "--ignore-not-found"});
  kubectl_ok({"label", "namespace", test_namespace(), "istio-injection=enabled"});
}

void OperatorEndToEndTest::TearDown() {
  if (controller_) {
    const int status = stop_controller();
    EXPECT_EQ(status, 0) << "the controller did not exit cleanly on SIGTERM";
    if (HasFailure()) {
      std::cerr << "---- controller log (" << controller_->log_path() << ") ----\n"
                << controller_->log() << "----\n";
    }
  }
  EndToEndTest::TearDown();
}

void OperatorEndToEndTest::start_controller(const std::vector<std::string>& extra_arguments) {
  auto kubeconfig = token_kubeconfig("meshprobe-system", "meshprobe-controller");
  ASSERT_TRUE(kubeconfig.ok()) << kubeconfig.error().message;
  metrics_port_ = free_port();
  const int health_port = free_port();
  const std::string log_path =
      cluster().state_directory + "/" + test_namespace() + ".controller.log";
  std::vector<std::string> arguments = {"--kubeconfig",
                                        *kubeconfig,
                                        "--metrics-bind-address",
                                        "127.0.0.1:" + std::to_string(metrics_port_),
                                        "--health-probe-bind-address",
                                        "127.0.0.1:" + std::to_string(health_port),
                                        "--leader-elect",
                                        "--lease-duration",
                                        "6s",
                                        "--renew-deadline",
                                        "4s",
                                        "--retry-period",
                                        "1s",
                                        "--log-level",
                                        "info"};
  if (std::find(extra_arguments.begin(), extra_arguments.end(), "--max-concurrent-rollouts") ==
      extra_arguments.end()) {
    arguments.insert(arguments.end(), {"--max-concurrent-rollouts", "0"});
  }
  arguments.insert(arguments.end(), extra_arguments.begin(), extra_arguments.end());
  auto started = ControllerProcess::start(MESHPROBE_BINARY, arguments, log_path);
  ASSERT_TRUE(started.ok()) << started.error().message;
  controller_ = std::move(started).value();
  ASSERT_TRUE(eventually(
      "the controller to lead", std::chrono::seconds(60), [&]() -> ::testing::AssertionResult {
        if (!controller_->running())
          return ::testing::AssertionFailure() << "it exited:\n" << controller_->log();
        if (controller_->log().find("): reconciling") == std::string::npos)
          return ::testing::AssertionFailure() << controller_->log();
        return ::testing::AssertionSuccess();
      }));
}

int OperatorEndToEndTest::stop_controller() {
  if (!controller_) return -1;
  return controller_->stop();
}

json OperatorEndToEndTest::deployment(const std::string& name,
                                      const std::string& namespace_name) const {
  auto object = kubectl().get_json({"deployment", name, "--namespace",
                                    namespace_name.empty() ? test_namespace() : namespace_name});
  return object.ok() ? *object : json();
}

json field(const json& object, const std::string& pointer) {
  const json::json_pointer path(pointer);
  return object.is_object() && object.contains(path) ? object.at(path) : json();
}

json OperatorEndToEndTest::rewrite_condition(const json& deployment) {
  const json conditions = field(deployment, "/status/conditions");
  if (!conditions.is_array()) return json::object();
  for (const auto& condition : conditions) {
    if (condition.is_object() && condition.value("type", "") == "HealthProbesRewritten")
      return condition;
  }
  return json::object();
}

bool OperatorEndToEndTest::has_agent(const json& deployment) {
  const json init_containers = field(deployment, "/spec/template/spec/initContainers");
  if (!init_containers.is_array()) return false;
  for (const auto& container : init_containers) {
    if (container.is_object() && container.value("name", "") == "meshprobe-agent") return true;
  }
  return false;
}

::testing::AssertionResult OperatorEndToEndTest::eventually_reason(
    const std::string& name, const std::string& reason, bool agent,
    const std::string& namespace_name, std::chrono::seconds timeout) const {
  return eventually("Deployment " + name + " to have reason " + reason +
                        (agent ? " with" : " without") + " the agent",
                    timeout, [&]() -> ::testing::AssertionResult {
                      const json object = deployment(name, namespace_name);
                      const json condition = rewrite_condition(object);
                      if (condition.value("reason", "") == reason && has_agent(object) == agent) {
                        return ::testing::AssertionSuccess();
                      }
                      return ::testing::AssertionFailure()
                             << "condition " << condition.dump() << ", agent " << has_agent(object);
                    });
}

std::string OperatorEndToEndTest::kubectl_ok(const std::vector<std::string>& arguments,
                                             std::string_view input) const {
  const CommandResult result = kubectl().run(arguments, input);
  EXPECT_TRUE(command_succeeded(result));
  return result.standard_output;
}

CommandResult OperatorEndToEndTest::shell(const std::string& script) const {
  const std::string directory = std::filesystem::path(cluster().kubectl).parent_path().string();
  const std::string prelude = "set -euo pipefail; export PATH='" + directory +
                              "':\"$PATH\" KUBECONFIG='" + cluster().admin_kubeconfig + "'; ";
  return run_command({"/bin/bash", "-c", prelude + script}, {}, std::chrono::seconds(60));
}

double OperatorEndToEndTest::metric(const std::string& series) const {
  const CommandResult scraped =
      shell("curl -sf http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics");
  EXPECT_TRUE(command_succeeded(scraped));
  std::istringstream lines(scraped.standard_output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
  }
  return 0;
}

}  // namespace meshprobe::e2e
