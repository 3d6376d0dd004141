// The original probe actions as the agent receives them: the value of the agent container's
// ISTIO_KUBE_APP_PROBERS environment variable, in Istio's JSON shape, keyed by the path the
// rewritten probe asks the agent for:
//   {"/app-health/web/livez": {"httpGet": {"path": "/foo", "port": 8001, "scheme": "HTTP"},
//                              "timeoutSeconds": 1}, ...}
// The engine writes it (rewrite.h); the agent parses it strictly at start.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "probe/result.h"

namespace meshprobe::probe {

struct HttpHeader {
  std::string name;
  std::string value;
  bool operator==(const HttpHeader&) const = default;
};

struct HttpGetAction {
  std::string host;  // empty, or a pod-local host (see is_pod_local_host)
  int port = 0;
  std::string path = "/";
  std::string scheme = "HTTP";  // "HTTP" or "HTTPS"
  std::vector<HttpHeader> headers;
  bool operator==(const HttpGetAction&) const = default;
};

struct TcpSocketAction {
  std::string host;
  int port = 0;
  bool operator==(const TcpSocketAction&) const = default;
};

struct GrpcAction {
  int port = 0;
  std::optional<std::string> service;
  bool operator==(const GrpcAction&) const = default;
};

using ProbeAction = std::variant<HttpGetAction, TcpSocketAction, GrpcAction>;

struct AppProber {
  ProbeAction action;
  int timeout_seconds = 1;
  bool operator==(const AppProber&) const = default;
};

// Keyed by the rewritten path; ordered so that serialization is deterministic.
using AppProbers = std::map<std::string, AppProber>;

// Which probe or hook a rewritten path stands for.
enum class ProbeSlot { kLiveness, kReadiness, kStartup, kPreStop, kPostStart };

struct ProberPath {
  std::string container;
  ProbeSlot slot;
  bool operator==(const ProberPath&) const = default;
};

// "/app-health/<container>/livez|readyz|startupz",
// "/app-lifecycle/<container>/prestopz|poststartz".
std::string prober_path(std::string_view container, ProbeSlot slot);
// The inverse; nullopt for anything that is not such a path with a DNS-label container name.
std::optional<ProberPath> parse_prober_path(std::string_view path);
std::string_view slot_name(ProbeSlot slot);  // "liveness", ..., "preStop", "postStart"

// Empty, "localhost", "127.0.0.1" or "::1": hosts the agent may dial inside the pod.
bool is_pod_local_host(std::string_view host);

// Strict: bad JSON, a key that is not a prober path, a value with zero or several actions,
// an unknown field, a port that is not an integer in 1..65535 or a non-positive timeout is
// an error whose message names the key and the field.
Result<AppProbers> parse_app_probers(std::string_view json_text);
nlohmann::json app_probers_to_json(const AppProbers& probers);
std::string serialize_app_probers(const AppProbers& probers);  // compact, deterministic

}  // namespace meshprobe::probe
