// The real control plane the end-to-end tests run against (started by e2e/cluster/up, once
// per run by e2e/run), and kubectl bound to one of its kubeconfigs.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "harness/command.h"
#include "probe/result.h"

namespace meshprobe::e2e {

// What e2e/cluster/up writes to STATE_DIR/env (the variables are listed in e2e/README.md).
struct Cluster {
  std::string state_directory;             // MESHPROBE_E2E_STATE_DIR
  std::string admin_kubeconfig;            // MESHPROBE_E2E_KUBECONFIG (system:masters)
  std::string kubectl;                     // MESHPROBE_E2E_KUBECTL, the pinned version
  std::string server;                      // MESHPROBE_E2E_SERVER, https://127.0.0.1:PORT
  std::string certificate_authority_file;  // MESHPROBE_E2E_CA_FILE
  std::string log_directory;               // MESHPROBE_E2E_LOG_DIR
  std::string kubernetes_version;          // MESHPROBE_E2E_KUBERNETES_VERSION, e.g. 1.35.4
  std::string istio_crds_file;             // MESHPROBE_E2E_ISTIO_CRDS, the applied Istio CRDs
  std::string argo_rollouts_crd_file;      // MESHPROBE_E2E_ARGO_ROLLOUTS_CRD (not applied)

  // Reads the MESHPROBE_E2E_* variables; the error names the missing ones and how to run.
  static Result<Cluster> from_environment();
};

// kubectl with one kubeconfig; every call is bounded by `timeout`.
class Kubectl {
 public:
  static constexpr std::chrono::seconds kDefaultTimeout{60};

  Kubectl(std::string binary, std::string kubeconfig,
          std::chrono::milliseconds timeout = kDefaultTimeout);

  CommandResult run(const std::vector<std::string>& arguments, std::string_view input = {}) const;
  // `kubectl get ARGUMENTS -o json`, parsed; the error carries kubectl's message.
  Result<nlohmann::json> get_json(const std::vector<std::string>& arguments) const;

  const std::string& kubeconfig() const { return kubeconfig_; }

 private:
  std::string binary_;
  std::string kubeconfig_;
  std::chrono::milliseconds timeout_;
};

}  // namespace meshprobe::e2e
