#include "operator/controller_config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <functional>
#include <map>
#include <optional>

namespace meshprobe::controller {
namespace {

using Setter = std::function<Result<bool>(ControllerConfig&, std::string_view)>;

Error invalid(std::string_view key, std::string_view what, std::string_view text) {
  return Error{std::string(key) + ": " + std::string(what) + ", got \"" + std::string(text) + "\""};
}

std::optional<long long> parse_integer(std::string_view text) {
  long long value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::optional<double> parse_number(std::string_view text) {
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// YAML 1.2 core schema booleans, as Kubernetes' own YAML reader accepts them.
std::optional<bool> parse_boolean(std::string_view text) {
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  return std::nullopt;
}

Setter text_setting(std::string ControllerConfig::*field, bool allow_empty = false) {
  return [field, allow_empty](ControllerConfig& config, std::string_view text) -> Result<bool> {
    if (text.empty() && !allow_empty) return Error{"must not be empty"};
    config.*field = std::string(text);
    return true;
  };
}

Setter bind_address_setting(std::string ControllerConfig::*field) {
  return [field](ControllerConfig& config, std::string_view text) -> Result<bool> {
    const auto colon = text.rfind(':');
    const std::optional<long long> port =
        colon == std::string_view::npos ? std::nullopt : parse_integer(text.substr(colon + 1));
    if (text != "0" && (!port || *port < 0 || *port > 65535)) {
      return Error{"must be [HOST]:PORT (\":8081\", \"127.0.0.1:0\") or \"0\" to turn it off"};
    }
    config.*field = std::string(text);
    return true;
  };
}

Setter duration_setting(std::chrono::milliseconds LeaderElectionSettings::*field) {
  return [field](ControllerConfig& config, std::string_view text) -> Result<bool> {
    auto duration = parse_duration(text);
    if (!duration) return duration.error();
    if (duration->count() <= 0) return Error{"must be positive"};
    config.leader_election.*field = *duration;
    return true;
  };
}

// The one table of settings: key path -> parser. Its order is the config file's.
const std::vector<std::pair<std::string_view, Setter>>& setters() {
  static const std::vector<std::pair<std::string_view, Setter>> table = {
      {"agentImage", text_setting(&ControllerConfig::agent_image)},
      {"agentPort",
       [](ControllerConfig& config, std::string_view text) -> Result<bool> {
         auto port = parse_integer(text);
         if (!port || *port < 1 || *port > 65535 || (*port >= 15000 && *port <= 15099)) {
           return Error{"must be an integer in 1..65535 outside Istio's reserved 15000-15099"};
         }
         config.agent_port = static_cast<int>(*port);
         return true;
       }},
      {"rootNamespace", text_setting(&ControllerConfig::root_namespace)},
      {"defaultRewrite",
       [](ControllerConfig& config, std::string_view text) -> Result<bool> {
         auto value = parse_boolean(text);
         if (!value) return Error{"must be true or false"};
         config.default_rewrite = *value;
         return true;
       }},
      {"excludedNamespaces",
       [](ControllerConfig& config, std::string_view text) -> Result<bool> {
         config.excluded_namespaces.clear();
         while (!text.empty()) {
           const auto comma = text.find(',');
           std::string_view item = text.substr(0, comma);
           while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
           while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
           if (!item.empty()) config.excluded_namespaces.emplace_back(item);
           if (comma == std::string_view::npos) break;
           text.remove_prefix(comma + 1);
         }
         return true;
       }},
      {"workers",
       [](ControllerConfig& config, std::string_view text) -> Result<bool> {
         auto workers = parse_integer(text);
         if (!workers || *workers < 1 || *workers > 64) return Error{"must be an integer in 1..64"};
         config.workers = static_cast<int>(*workers);
         return true;
       }},
      {"maxConcurrentRollouts",
       [](ControllerConfig& config, std::string_view text) -> Result<bool> {
         auto limit = parse_integer(text);
         if (!limit || *limit < 0 || *limit > 100000) {
           return Error{"must be an integer >= 0 (0: unlimited)"};
         }
         config.max_concurrent_rollouts = static_cast<int>(*limit);
         return true;
       }},
      {"rolloutDeadline",
       [](ControllerConfig& config, std::string_view text) -> Result<bool> {
         auto duration = parse_duration(text);
         if (!duration) return duration.error();
         if (duration->count() <= 0) return Error{"must be positive"};
         config.rollout_deadline = *duration;
         return true;
       }},
      {"rewriteOwnedTemplates",
       [](ControllerConfig& config, std::string_view text) -> Result<bool> {
         auto value = parse_boolean(text);
         if (!value) return Error{"must be true or false"};
         config.rewrite_owned_templates = *value;
         return true;
       }},
      {"apiQPS",
       [](ControllerConfig& config, std::string_view text) -> Result<bool> {
         auto qps = parse_number(text);
         if (!qps || *qps <= 0) return Error{"must be a positive number"};
         config.api_qps = *qps;
         return true;
       }},
      {"apiBurst",
       [](ControllerConfig& config, std::string_view text) -> Result<bool> {
         auto burst = parse_integer(text);
         if (!burst || *burst < 1 || *burst > 100000) return Error{"must be a positive integer"};
         config.api_burst = static_cast<int>(*burst);
         return true;
       }},
      {"leaderElection.enabled",
       [](ControllerConfig& config, std::string_view text) -> Result<bool> {
         auto value = parse_boolean(text);
         if (!value) return Error{"must be true or false"};
         config.leader_election.enabled = *value;
         return true;
       }},
      {"leaderElection.leaseName",
       [](ControllerConfig& config, std::string_view text) -> Result<bool> {
         if (text.empty()) return Error{"must not be empty"};
         config.leader_election.lease_name = std::string(text);
         return true;
       }},
      {"leaderElection.namespace",
       [](ControllerConfig& config, std::string_view text) -> Result<bool> {
         config.leader_election.namespace_name = std::string(text);
         return true;
       }},
      {"leaderElection.leaseDuration", duration_setting(&LeaderElectionSettings::lease_duration)},
      {"leaderElection.renewDeadline", duration_setting(&LeaderElectionSettings::renew_deadline)},
      {"leaderElection.retryPeriod", duration_setting(&LeaderElectionSettings::retry_period)},
      {"healthProbeBindAddress",
       bind_address_setting(&ControllerConfig::health_probe_bind_address)},
      {"metricsBindAddress", bind_address_setting(&ControllerConfig::metrics_bind_address)},
      {"log.level",
       [](ControllerConfig& config, std::string_view text) -> Result<bool> {
         if (text != "debug" && text != "info" && text != "warning" && text != "error") {
           return Error{"must be one of debug, info, warning, error"};
         }
         config.log_level = std::string(text);
         return true;
       }},
      {"log.format",
       [](ControllerConfig& config, std::string_view text) -> Result<bool> {
         if (text == "text") {
           config.log_format = LogFormat::kText;
         } else if (text == "json") {
           config.log_format = LogFormat::kJson;
         } else {
           return Error{"must be text or json"};
         }
         return true;
       }},
  };
  return table;
}

Result<bool> apply_node(ControllerConfig& config, const YAML::Node& node, const std::string& path) {
  if (node.IsMap()) {
    for (const auto& entry : node) {
      const std::string key = entry.first.as<std::string>();
      auto applied = apply_node(config, entry.second, path.empty() ? key : path + "." + key);
      if (!applied) return applied;
    }
    return true;
  }
  std::string text;
  if (node.IsSequence()) {
    for (const auto& item : node) {
      if (!item.IsScalar()) return Error{path + ": must be a list of names"};
      text += (text.empty() ? "" : ",") + item.as<std::string>();
    }
  } else if (node.IsScalar()) {
    text = node.as<std::string>();
  } else if (!node.IsNull()) {
    return Error{path + ": unexpected value"};
  }
  return set_setting(config, path, text);
}

}  // namespace

const std::vector<std::string_view>& setting_keys() {
  static const std::vector<std::string_view> keys = [] {
    std::vector<std::string_view> out;
    for (const auto& [key, setter] : setters()) out.push_back(key);
    return out;
  }();
  return keys;
}

Result<bool> set_setting(ControllerConfig& config, std::string_view key, std::string_view text) {
  for (const auto& [name, setter] : setters()) {
    if (name != key) continue;
    auto applied = setter(config, text);
    if (!applied) return invalid(key, applied.error().message, text);
    return true;
  }
  return Error{"unknown setting \"" + std::string(key) + "\""};
}

Result<bool> apply_config_yaml(ControllerConfig& config, const std::string& yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& error) {
    return Error{"not YAML: " + std::string(error.what())};
  }
  if (root.IsNull()) return true;
  if (!root.IsMap()) return Error{"must be a mapping of settings"};
  try {
    return apply_node(config, root, "");
  } catch (const YAML::Exception& error) {
    return Error{std::string(error.what())};
  }
}

Result<bool> validate(const ControllerConfig& config) {
  const auto& election = config.leader_election;
  if (election.enabled) {
    if (election.lease_duration <= election.renew_deadline) {
      return Error{
          "leaderElection.leaseDuration must be greater than leaderElection.renewDeadline"};
    }
    if (election.renew_deadline * 10 <= election.retry_period * 12) {
      return Error{
          "leaderElection.renewDeadline must be greater than 1.2 * leaderElection.retryPeriod"};
    }
  }
  return true;
}

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  static const std::map<std::string_view, double> kUnitMilliseconds = {
      {"ms", 1.0}, {"s", 1000.0}, {"m", 60000.0}, {"h", 3600000.0}};
  if (text.empty()) return Error{"must be a duration such as 15s, 500ms or 1m30s"};
  if (text == "0") return std::chrono::milliseconds(0);
  double total = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    std::size_t digits = 0;
    while (digits < rest.size() &&
           (std::isdigit(static_cast<unsigned char>(rest[digits])) || rest[digits] == '.'))
      ++digits;
    std::size_t unit_end = digits;
    while (unit_end < rest.size() && std::isalpha(static_cast<unsigned char>(rest[unit_end])))
      ++unit_end;
    auto number = parse_number(rest.substr(0, digits));
    auto unit = kUnitMilliseconds.find(rest.substr(digits, unit_end - digits));
    if (!number || unit == kUnitMilliseconds.end())
      return Error{"must be a duration such as 15s, 500ms or 1m30s"};
    total += *number * unit->second;
    rest.remove_prefix(unit_end);
  }
  return std::chrono::milliseconds(static_cast<long long>(total));
}

}  // namespace meshprobe::controller
