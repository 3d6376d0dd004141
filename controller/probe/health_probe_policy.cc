#include "probe/health_probe_policy.h"

#include <tuple>

#include "probe/object_fields.h"

namespace meshprobe::probe {
namespace {

using nlohmann::json;

// Reads a list of names into `out`; appends problems to `errors`.
template <typename Enum, typename Parse>
void read_name_set(const json& spec, const char* key, const char* allowed, Parse parse,
                   std::set<Enum>& out, std::vector<std::string>& errors) {
  const json* list = find_member(spec, key);
  if (list == nullptr) return;
  const std::string field = std::string("spec.") + key;
  if (!list->is_array()) {
    errors.push_back(field + ": must be a list of " + allowed);
    return;
  }
  if (list->empty()) {
    errors.push_back(field + ": must not be empty (leave it out to cover all of " + allowed + ")");
    return;
  }
  out.clear();
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& item = (*list)[i];
    auto value = item.is_string() ? parse(item.get<std::string>()) : std::nullopt;
    if (!value) {
      errors.push_back(field + "[" + std::to_string(i) + "]: must be one of " + allowed + ", got " +
                       item.dump());
      continue;
    }
    out.insert(*value);
  }
}

bool older(const HealthProbePolicy& a, const HealthProbePolicy& b) {
  return std::tie(a.creation_timestamp, a.name) < std::tie(b.creation_timestamp, b.name);
}

}  // namespace

std::string_view policy_mode_name(PolicyMode mode) {
  switch (mode) {
    case PolicyMode::kAlways:
      return "Always";
    case PolicyMode::kNever:
      return "Never";
    case PolicyMode::kWhenRequired:
      return "WhenRequired";
  }
  return "Always";
}

std::string_view policy_level_name(PolicyLevel level) {
  switch (level) {
    case PolicyLevel::kWorkload:
      return "workload level";
    case PolicyLevel::kNamespace:
      return "namespace level";
    case PolicyLevel::kMesh:
      return "mesh wide";
  }
  return "workload level";
}

std::string HealthProbePolicy::reference() const {
  return "HealthProbePolicy " + namespace_name + "/" + name;
}

Result<HealthProbePolicy> parse_health_probe_policy(const json& object) {
  auto identity = parse_object_identity(object);
  if (!identity) return identity.error();
  HealthProbePolicy policy;
  policy.namespace_name = identity->namespace_name;
  policy.name = identity->name;
  policy.creation_timestamp = identity->creation_timestamp;

  const json* spec = find_member(object, "spec");
  if (spec == nullptr || !spec->is_object()) return Error{"spec: must be an object"};
  std::vector<std::string> errors;
  for (const auto& [key, _] : spec->items()) {
    if (key != "selector" && key != "mode" && key != "probes" && key != "protocols") {
      errors.push_back("spec." + key +
                       ": is not a field of HealthProbePolicy (selector, mode, probes, protocols)");
    }
  }
  if (const json* selector = find_member(*spec, "selector")) {
    auto parsed = parse_label_selector(*selector, "spec.selector");
    if (parsed)
      policy.selector = std::move(parsed).value();
    else
      errors.push_back(parsed.error().message);
  }
  if (const json* mode = find_member(*spec, "mode")) {
    const std::string text = mode->is_string() ? mode->get<std::string>() : "";
    if (text == "Always")
      policy.mode = PolicyMode::kAlways;
    else if (text == "Never")
      policy.mode = PolicyMode::kNever;
    else if (text == "WhenRequired")
      policy.mode = PolicyMode::kWhenRequired;
    else
      errors.push_back("spec.mode: must be one of Always, Never, WhenRequired, got " +
                       mode->dump());
  }
  read_name_set(*spec, "probes", "liveness, readiness, startup, lifecycle", parse_probe_family,
                policy.probes, errors);
  read_name_set(*spec, "protocols", "HTTP, TCP, GRPC", parse_probe_protocol, policy.protocols,
                errors);
  if (!errors.empty()) {
    std::string message;
    for (const auto& error : errors) message += (message.empty() ? "" : "; ") + error;
    return Error{message};
  }
  return policy;
}

std::optional<PolicyMatch> select_policy(std::span<const HealthProbePolicy> policies,
                                         std::string_view root_namespace,
                                         std::string_view workload_namespace,
                                         const Labels& template_labels) {
  const HealthProbePolicy* chosen[3] = {nullptr, nullptr, nullptr};  // by PolicyLevel
  auto offer = [&chosen](PolicyLevel level, const HealthProbePolicy& policy) {
    auto& slot = chosen[static_cast<int>(level)];
    if (slot == nullptr || older(policy, *slot)) slot = &policy;
  };
  for (const auto& policy : policies) {
    const bool whole_namespace = !policy.selector || policy.selector->empty();
    if (policy.namespace_name == workload_namespace) {
      if (whole_namespace)
        offer(PolicyLevel::kNamespace, policy);
      else if (policy.selector->matches(template_labels))
        offer(PolicyLevel::kWorkload, policy);
    } else if (policy.namespace_name == root_namespace && whole_namespace) {
      offer(PolicyLevel::kMesh, policy);
    }
  }
  for (auto level : {PolicyLevel::kWorkload, PolicyLevel::kNamespace, PolicyLevel::kMesh}) {
    if (const auto* policy = chosen[static_cast<int>(level)]) return PolicyMatch{policy, level};
  }
  return std::nullopt;
}

}  // namespace meshprobe::probe
