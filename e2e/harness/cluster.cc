#include "harness/cluster.h"

#include <cstdlib>
#include <utility>

namespace meshprobe::e2e {

Result<Cluster> Cluster::from_environment() {
  Cluster cluster;
  std::string missing;
  auto read = [&missing](const char* name, std::string& field) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') {
      missing += missing.empty() ? name : std::string(", ") + name;
    } else {
      field = value;
    }
  };
  read("MESHPROBE_E2E_STATE_DIR", cluster.state_directory);
  read("MESHPROBE_E2E_KUBECONFIG", cluster.admin_kubeconfig);
  read("MESHPROBE_E2E_KUBECTL", cluster.kubectl);
  read("MESHPROBE_E2E_SERVER", cluster.server);
  read("MESHPROBE_E2E_CA_FILE", cluster.certificate_authority_file);
  read("MESHPROBE_E2E_LOG_DIR", cluster.log_directory);
  read("MESHPROBE_E2E_KUBERNETES_VERSION", cluster.kubernetes_version);
  read("MESHPROBE_E2E_ISTIO_CRDS", cluster.istio_crds_file);
  read("MESHPROBE_E2E_ARGO_ROLLOUTS_CRD", cluster.argo_rollouts_crd_file);
  if (!missing.empty()) {
    return Error{"no end-to-end cluster: " + missing +
                 " not set. Run the end-to-end tests with `e2e/run BUILD_DIR`, or start a "
                 "cluster with `e2e/cluster/up` and `source STATE_DIR/env` first."};
  }
  return cluster;
}

Kubectl::Kubectl(std::string binary, std::string kubeconfig, std::chrono::milliseconds timeout)
    : binary_(std::move(binary)), kubeconfig_(std::move(kubeconfig)), timeout_(timeout) {}

CommandResult Kubectl::run(const std::vector<std::string>& arguments,
                           std::string_view input) const {
  std::vector<std::string> command{binary_, "--kubeconfig=" + kubeconfig_};
  command.insert(command.end(), arguments.begin(), arguments.end());
  return run_command(command, input, timeout_);
}

Result<nlohmann::json> Kubectl::get_json(const std::vector<std::string>& arguments) const {
  std::vector<std::string> command{"get"};
  command.insert(command.end(), arguments.begin(), arguments.end());
  command.push_back("--output=json");
  CommandResult result = run(command);
  if (!result.succeeded()) {
    return Error{"`" + result.command_line + "` failed: " + result.standard_error};
  }
  auto document =
      nlohmann::json::parse(result.standard_output, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    return Error{"`" + result.command_line + "` printed no JSON: " + result.standard_output};
  }
  return document;
}

}  // namespace meshprobe::e2e
