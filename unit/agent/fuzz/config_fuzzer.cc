// libFuzzer: the agent's configuration as the container's environment gives it. Input: the
// first line is POD_IP (may be empty), the rest is ISTIO_KUBE_APP_PROBERS (each up to a NUL).
// Whatever it holds, the agent either refuses it with one line or accepts a configuration
// that it can serve safely: every accepted probe dials only the pod's own addresses, writes a
// request that cannot be split, and reads back the same after the engine's serialization.
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "agent/agent_config.h"
#include "agent/http_probe_request.h"
#include "agent/pod_address.h"
#include "probe/names.h"

namespace {

using namespace meshprobe;
using namespace meshprobe::agent;

[[noreturn]] void fail(std::string_view what) {
  std::cerr << "invariant broken: " << what << "\n";
  std::abort();
}

bool is_one_printable_line(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

void check_http(const probe::HttpGetAction& action, const std::string& pod_ip) {
  const HttpProbeState state = initial_probe_state(action, pod_ip);
  if (dial_addresses(state.url.host, pod_ip).empty())
    fail("an accepted HTTP probe has a host the agent will not dial");
  const OutgoingRequest request = build_probe_request(state, action.headers, "kube-probe/1.31");
  if (request.target.empty() || request.target.front() != '/')
    fail("the request target does not start with /");
  for (char c : request.target) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f)
      fail("the request target holds a byte that is not a target character");
  }
  for (const auto& header : request.headers) {
    if (!is_safe_header(header)) fail("an outgoing header could split the request");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  // What the environment can hold: a variable ends at its first NUL.
  auto variable = [](std::string_view text) {
    return std::string(text.substr(0, text.find('\0')));
  };
  const std::string pod_ip = variable(input.substr(0, newline));
  const std::string probers_text =
      variable(newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1));

  const char* const argv[] = {"meshprobe-agent"};
  auto command_line =
      parse_command_line(1, argv, [&](const std::string& name) -> std::optional<std::string> {
        if (name == probe::kPodIpEnvName) return pod_ip;
        if (name == probe::kAppProbersEnvName) return probers_text;
        return std::nullopt;
      });
  if (!command_line) {
    if (!is_one_printable_line(command_line.error().message))
      fail("the error is not one printable line");
    return 0;
  }
  const AgentConfig& config = *command_line->config;
  for (const auto& [path, prober] : config.probers) {
    if (!probe::parse_prober_path(path)) fail("an accepted key is not a prober path");
    if (prober.timeout_seconds < 1) fail("an accepted timeout is not positive");
    std::visit(
        [&](const auto& action) {
          using Action = std::decay_t<decltype(action)>;
          if (action.port < 1 || action.port > 65535) fail("an accepted port is out of range");
          if constexpr (std::is_same_v<Action, probe::HttpGetAction>) {
            check_http(action, config.pod_ip);
          } else if constexpr (std::is_same_v<Action, probe::TcpSocketAction>) {
            if (dial_addresses(probe_host(action.host, config.pod_ip), config.pod_ip).empty()) {
              fail("an accepted TCP probe has a host the agent will not dial");
            }
          }
        },
        prober.action);
  }
  // The engine writes what the agent reads: the serialization must read back the same.
  auto reread = probe::parse_app_probers(probe::serialize_app_probers(config.probers));
  if (!reread || *reread != config.probers)
    fail("serialize then parse does not give the configuration back");
  return 0;
}
