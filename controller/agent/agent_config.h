// The agent's configuration: flags, then the environment the controller gives its container
// (ISTIO_KUBE_APP_PROBERS, POD_IP). Everything is validated here, at start: a bad value is one
// error line naming it, and the agent exits non-zero (DESIGN.md "Agent behaviour").
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "agent/logger.h"
#include "probe/app_probers.h"
#include "probe/result.h"

namespace meshprobe::agent {

struct ServerLimits {
  std::chrono::milliseconds header_read_timeout{
      10'000};  // from accept, and between keep-alive requests
  std::size_t max_header_bytes = 8 * 1024;
  std::size_t max_connections = 64;
};

struct AgentConfig {
  std::string address;  // empty: every address ("::", or "0.0.0.0" where there is no IPv6)
  int port = 0;
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kJson;
  ServerLimits limits;
  std::string pod_ip;  // may be empty (not on Kubernetes); then 127.0.0.1 is asked
  probe::AppProbers probers;
};

struct CommandLine {
  std::optional<AgentConfig> config;  // empty when --help was asked for
  std::string usage;
};

// Reads a variable of the environment; nullopt when it is not set.
using EnvironmentReader = std::function<std::optional<std::string>(const std::string& name)>;

Result<CommandLine> parse_command_line(int argc, const char* const argv[],
                                       const EnvironmentReader& environment);

// What the agent needs beyond parse_app_probers: every host is one of the pod's own
// (is_pod_local_host or POD_IP), every stored header can be written as one header.
std::optional<Error> validate_probers_for_agent(const probe::AppProbers& probers,
                                                std::string_view pod_ip);

}  // namespace meshprobe::agent
