#include "probe/app_probers.h"

#include <array>
#include <set>

namespace meshprobe::probe {
namespace {

using nlohmann::json;

struct SlotNames {
  ProbeSlot slot;
  std::string_view prefix;  // "/app-health/" or "/app-lifecycle/"
  std::string_view suffix;  // "livez", ...
  std::string_view name;    // "liveness", ...
};

constexpr std::array<SlotNames, 5> kSlots{{
    {ProbeSlot::kLiveness, "/app-health/", "livez", "liveness"},
    {ProbeSlot::kReadiness, "/app-health/", "readyz", "readiness"},
    {ProbeSlot::kStartup, "/app-health/", "startupz", "startup"},
    {ProbeSlot::kPreStop, "/app-lifecycle/", "prestopz", "preStop"},
    {ProbeSlot::kPostStart, "/app-lifecycle/", "poststartz", "postStart"},
}};

const SlotNames& names_of(ProbeSlot slot) {
  for (const auto& s : kSlots) {
    if (s.slot == slot) return s;
  }
  return kSlots[0];  // unreachable: every enumerator is in kSlots
}

// RFC 1123 label, as Kubernetes requires of container names.
bool is_dns_label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s) {
    if (!alnum(c) && c != '-') return false;
  }
  return true;
}

class FieldError {
 public:
  explicit FieldError(std::string key) : key_(std::move(key)) {}
  Error operator()(std::string_view field, std::string_view problem) const {
    return Error{"ISTIO_KUBE_APP_PROBERS: \"" + key_ + "\": " + std::string(field) + " " +
                 std::string(problem)};
  }

 private:
  std::string key_;
};

std::string describe(const json& value) {
  std::string text = printable_for_message(value.dump());  // dump() leaves DEL (0x7f) as it is
  return text.size() > 40 ? text.substr(0, 40) + "..." : text;
}

Result<int> port_of(const json& object, std::string_view action, const FieldError& fail) {
  const std::string field = std::string(action) + ".port";
  auto it = object.find("port");
  if (it == object.end()) return fail(field, "is missing");
  if (!it->is_number_integer()) return fail(field, "must be an integer, got " + describe(*it));
  const auto port = it->get<long long>();
  if (port < 1 || port > 65535) return fail(field, "must be in 1..65535, got " + describe(*it));
  return static_cast<int>(port);
}

Result<std::string> optional_string(const json& object, std::string_view key,
                                    std::string_view field, const FieldError& fail) {
  auto it = object.find(key);
  if (it == object.end()) return std::string();
  if (!it->is_string()) return fail(field, "must be a string, got " + describe(*it));
  return it->get<std::string>();
}

std::optional<Error> unknown_field(const json& object, const std::set<std::string_view>& known,
                                   std::string_view where, const FieldError& fail) {
  for (const auto& [key, _] : object.items()) {
    if (!known.count(key)) {
      const std::string printable = printable_for_message(key);
      const std::string name =
          printable == key ? key : quoted_for_message(key);  // quoted only when escaped
      return fail(std::string(where) + (where.empty() ? "" : ".") + name, "is not a known field");
    }
  }
  return std::nullopt;
}

Result<ProbeAction> parse_http_get(const json& object, const FieldError& fail) {
  if (auto unknown =
          unknown_field(object, {"host", "port", "path", "scheme", "httpHeaders"}, "httpGet", fail))
    return *unknown;
  HttpGetAction action;
  auto port = port_of(object, "httpGet", fail);
  if (!port) return port.error();
  action.port = *port;
  auto host = optional_string(object, "host", "httpGet.host", fail);
  if (!host) return host.error();
  action.host = *host;
  auto path = optional_string(object, "path", "httpGet.path", fail);
  if (!path) return path.error();
  if (!path->empty()) action.path = *path;
  if (action.path.front() != '/') return fail("httpGet.path", "must start with /");
  auto scheme = optional_string(object, "scheme", "httpGet.scheme", fail);
  if (!scheme) return scheme.error();
  if (!scheme->empty()) action.scheme = *scheme;
  if (action.scheme != "HTTP" && action.scheme != "HTTPS") {
    return fail("httpGet.scheme",
                "must be HTTP or HTTPS, got " + quoted_for_message(action.scheme));
  }
  if (auto it = object.find("httpHeaders"); it != object.end()) {
    if (!it->is_array()) return fail("httpGet.httpHeaders", "must be a list");
    for (const auto& header : *it) {
      if (!header.is_object() || !header.contains("name") || !header["name"].is_string() ||
          (header.contains("value") && !header["value"].is_string())) {
        return fail("httpGet.httpHeaders", "entries must be {\"name\": string, \"value\": string}");
      }
      action.headers.push_back({header["name"].get<std::string>(), header.value("value", "")});
    }
  }
  return ProbeAction{std::move(action)};
}

Result<ProbeAction> parse_tcp_socket(const json& object, const FieldError& fail) {
  if (auto unknown = unknown_field(object, {"host", "port"}, "tcpSocket", fail)) return *unknown;
  TcpSocketAction action;
  auto port = port_of(object, "tcpSocket", fail);
  if (!port) return port.error();
  action.port = *port;
  auto host = optional_string(object, "host", "tcpSocket.host", fail);
  if (!host) return host.error();
  action.host = *host;
  return ProbeAction{std::move(action)};
}

Result<ProbeAction> parse_grpc(const json& object, const FieldError& fail) {
  if (auto unknown = unknown_field(object, {"port", "service"}, "grpc", fail)) return *unknown;
  GrpcAction action;
  auto port = port_of(object, "grpc", fail);
  if (!port) return port.error();
  action.port = *port;
  if (auto it = object.find("service"); it != object.end() && !it->is_null()) {
    if (!it->is_string()) return fail("grpc.service", "must be a string, got " + describe(*it));
    action.service = it->get<std::string>();
  }
  return ProbeAction{std::move(action)};
}

Result<AppProber> parse_prober(const json& value, const FieldError& fail) {
  if (!value.is_object()) return fail("value", "must be an object, got " + describe(value));
  if (auto unknown =
          unknown_field(value, {"httpGet", "tcpSocket", "grpc", "timeoutSeconds"}, "", fail))
    return *unknown;
  const int actions =
      value.contains("httpGet") + value.contains("tcpSocket") + value.contains("grpc");
  if (actions != 1) {
    return fail("value", "must hold exactly one of httpGet, tcpSocket, grpc; it holds " +
                             std::to_string(actions));
  }
  AppProber prober;
  if (auto it = value.find("timeoutSeconds"); it != value.end()) {
    if (!it->is_number_integer() || it->get<long long>() < 1 || it->get<long long>() > 86400) {
      return fail("timeoutSeconds", "must be an integer in 1..86400, got " + describe(*it));
    }
    prober.timeout_seconds = it->get<int>();
  }
  const char* kind = value.contains("httpGet")     ? "httpGet"
                     : value.contains("tcpSocket") ? "tcpSocket"
                                                   : "grpc";
  const json& action = value[kind];
  if (!action.is_object()) return fail(kind, "must be an object, got " + describe(action));
  Result<ProbeAction> parsed = value.contains("httpGet")     ? parse_http_get(action, fail)
                               : value.contains("tcpSocket") ? parse_tcp_socket(action, fail)
                                                             : parse_grpc(action, fail);
  if (!parsed) return parsed.error();
  prober.action = std::move(parsed).value();
  return prober;
}

}  // namespace

std::string prober_path(std::string_view container, ProbeSlot slot) {
  const auto& names = names_of(slot);
  return std::string(names.prefix) + std::string(container) + "/" + std::string(names.suffix);
}

std::optional<ProberPath> parse_prober_path(std::string_view path) {
  for (const auto& names : kSlots) {
    if (path.substr(0, names.prefix.size()) != names.prefix) continue;
    auto rest = path.substr(names.prefix.size());
    auto slash = rest.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    if (rest.substr(slash + 1) != names.suffix) continue;
    auto container = rest.substr(0, slash);
    if (!is_dns_label(container)) return std::nullopt;
    return ProberPath{std::string(container), names.slot};
  }
  return std::nullopt;
}

std::string_view slot_name(ProbeSlot slot) { return names_of(slot).name; }

bool is_pod_local_host(std::string_view host) {
  return host.empty() || host == "localhost" || host == "127.0.0.1" || host == "::1";
}

Result<AppProbers> parse_app_probers(std::string_view json_text) {
  json document;
  try {
    document = json::parse(json_text);
  } catch (
      const json::exception& e) {  // parse_error, and out_of_range for a number too large (1e400)
    return Error{"ISTIO_KUBE_APP_PROBERS: not valid JSON: " + printable_for_message(e.what())};
  }
  if (!document.is_object()) {
    return Error{"ISTIO_KUBE_APP_PROBERS: must be a JSON object keyed by probe path, got " +
                 describe(document)};
  }
  AppProbers probers;
  for (const auto& [key, value] : document.items()) {
    if (!parse_prober_path(key)) {
      return Error{"ISTIO_KUBE_APP_PROBERS: key " + quoted_for_message(key) +
                   " is not /app-health/<container>/livez|readyz|startupz or "
                   "/app-lifecycle/<container>/prestopz|poststartz"};
    }
    auto prober = parse_prober(value, FieldError(key));
    if (!prober) return prober.error();
    probers.emplace(key, std::move(prober).value());
  }
  return probers;
}

nlohmann::json app_probers_to_json(const AppProbers& probers) {
  json out = json::object();
  for (const auto& [path, prober] : probers) {
    json entry = json::object();
    std::visit(
        [&](const auto& action) {
          using T = std::decay_t<decltype(action)>;
          json a = json::object();
          if constexpr (std::is_same_v<T, HttpGetAction>) {
            if (!action.host.empty()) a["host"] = action.host;
            a["path"] = action.path;
            a["port"] = action.port;
            a["scheme"] = action.scheme;
            if (!action.headers.empty()) {
              a["httpHeaders"] = json::array();
              for (const auto& h : action.headers)
                a["httpHeaders"].push_back({{"name", h.name}, {"value", h.value}});
            }
            entry["httpGet"] = std::move(a);
          } else if constexpr (std::is_same_v<T, TcpSocketAction>) {
            if (!action.host.empty()) a["host"] = action.host;
            a["port"] = action.port;
            entry["tcpSocket"] = std::move(a);
          } else {
            a["port"] = action.port;
            if (action.service) a["service"] = *action.service;
            entry["grpc"] = std::move(a);
          }
        },
        prober.action);
    entry["timeoutSeconds"] = prober.timeout_seconds;
    out[path] = std::move(entry);
  }
  return out;
}

std::string serialize_app_probers(const AppProbers& probers) {
  return app_probers_to_json(probers).dump();
}

}  // namespace meshprobe::probe
