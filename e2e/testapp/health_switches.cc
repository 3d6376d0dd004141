#include "health_switches.h"

namespace meshprobe::e2e {

std::string_view health_check_name(HealthCheck check) {
  switch (check) {
    case HealthCheck::kHttp:
      return "http";
    case HealthCheck::kTcp:
      return "tcp";
    case HealthCheck::kGrpc:
      return "grpc";
  }
  return "unknown";
}

std::optional<HealthCheck> parse_health_check(std::string_view name) {
  for (HealthCheck check : kHealthChecks) {
    if (health_check_name(check) == name) return check;
  }
  return std::nullopt;
}

Result<bool> parse_failing(std::string_view word) {
  while (!word.empty() && (word.back() == '\n' || word.back() == '\r' || word.back() == ' '))
    word.remove_suffix(1);
  if (word == "failing") return true;
  if (word == "passing") return false;
  return Error{"expected \"failing\" or \"passing\", got \"" + std::string(word) + "\""};
}

Result<std::vector<HealthCheck>> parse_health_check_list(std::string_view list) {
  std::vector<HealthCheck> checks;
  if (list.empty()) return checks;
  while (true) {
    const auto comma = list.find(',');
    const auto name = list.substr(0, comma);
    const auto check = parse_health_check(name);
    if (!check)
      return Error{"unknown health check \"" + std::string(name) +
                   "\" (expected http, tcp or grpc)"};
    checks.push_back(*check);
    if (comma == std::string_view::npos) return checks;
    list = list.substr(comma + 1);
  }
}

Result<HealthChange> parse_health_change(std::string_view target, std::string_view body) {
  constexpr std::string_view prefix = "/health/";
  if (!target.starts_with(prefix))
    return Error{"no such resource " + std::string(target) + " (PUT /health/<check>)"};
  const auto check = parse_health_check(target.substr(prefix.size()));
  if (!check) {
    return Error{"unknown health check \"" + std::string(target.substr(prefix.size())) +
                 "\" (expected http, tcp or grpc)"};
  }
  auto failing = parse_failing(body);
  if (!failing) return failing.error();
  return HealthChange{*check, *failing};
}

std::string HealthSwitches::json() const {
  std::string text = "{";
  for (HealthCheck check : kHealthChecks) {
    if (text.size() > 1) text += ",";
    text += "\"" + std::string(health_check_name(check)) + "\":\"" +
            (failing(check) ? "failing" : "passing") + "\"";
  }
  return text + "}";
}

}  // namespace meshprobe::e2e
