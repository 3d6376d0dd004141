// The controller's configuration: the keys of config/manager/controller_config.yaml, each of
// which a command-line flag of the same meaning overrides (`meshprobe controller --help`).
// Every setting is addressed by its key path ("agentPort", "leaderElection.leaseDuration") and
// parsed from text by one function, set_setting(), whichever source the text came from, so
// the file and the flags can never disagree about what a value means.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "probe/names.h"
#include "probe/result.h"

namespace meshprobe::controller {

struct LeaderElectionSettings {
  bool enabled = false;  // kubebuilder's default: on when asked for (the install asks)
  std::string lease_name = "meshprobe-controller";
  // The Lease's namespace: the flag, else $POD_NAMESPACE, else kDefaultControllerNamespace.
  std::string namespace_name;
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
};

inline constexpr std::string_view kDefaultControllerNamespace = "meshprobe-system";

enum class LogFormat { kText, kJson };

struct ControllerConfig {
  std::string agent_image;  // the build's default (deploy/images.env) when empty
  int agent_port = probe::kDefaultAgentPort;
  std::string root_namespace{probe::kDefaultRootNamespace};
  bool default_rewrite = true;
  // Like Istio's injector, which never touches these.
  std::vector<std::string> excluded_namespaces{"kube-system", "kube-public", "kube-node-lease"};
  int workers = 4;
  // Workloads meshprobe rewrote or restored whose rollout has not finished, at most (0: no
  // limit), and how long one such rollout may take before meshprobe stops waiting for it
  // (docs/workloads.md "Rollout pacing").
  int max_concurrent_rollouts = 10;
  std::chrono::milliseconds rollout_deadline{std::chrono::minutes(10)};
  // Write pod templates that another controller owns (docs/workloads.md "Owned templates").
  bool rewrite_owned_templates = false;
  double api_qps = 50;
  int api_burst = 100;
  LeaderElectionSettings leader_election;
  std::string health_probe_bind_address = ":8081";
  std::string metrics_bind_address = ":8080";
  std::string log_level = "info";  // debug, info, warning, error
  LogFormat log_format = LogFormat::kText;
};

// Every key path set_setting() knows, in the order of the config file.
const std::vector<std::string_view>& setting_keys();

// Parses `text` as the value of `key` into `config`. Errors name the key and the value:
// "agentPort: must be an integer in 1..65535 outside Istio's reserved 15000-15099, got \"15001\"".
// A list (excludedNamespaces) is comma-separated text.
Result<bool> set_setting(ControllerConfig& config, std::string_view key, std::string_view text);

// Applies a YAML config file's content over `config`. Unknown keys are errors (a misspelt key
// would otherwise be silently ignored); the message names the file's key path.
Result<bool> apply_config_yaml(ControllerConfig& config, const std::string& yaml_text);

// The rules between settings (leaseDuration > renewDeadline > 1.2 * retryPeriod, ...).
Result<bool> validate(const ControllerConfig& config);

// Go's time.ParseDuration for what a config needs: "15s", "1m30s", "500ms", "2h".
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace meshprobe::controller
