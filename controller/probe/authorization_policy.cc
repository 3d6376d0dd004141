#include "probe/authorization_policy.h"

#include <algorithm>
#include <optional>
#include <set>
#include <tuple>

#include "probe/object_fields.h"

namespace meshprobe::probe {
namespace {

using nlohmann::json;

// Three-valued: a request matches, does not, or it cannot be told (with why).
struct Match {
  enum class Value { kYes, kNo, kUnknown };
  Value value = Value::kYes;
  std::string why;  // kUnknown
  static Match yes() { return {Value::kYes, ""}; }
  static Match no() { return {Value::kNo, ""}; }
  static Match unknown(std::string why) { return {Value::kUnknown, std::move(why)}; }
};

// AND: any no is no; else any unknown is unknown.
Match all_of(const std::vector<Match>& matches) {
  Match out = Match::yes();
  for (const auto& match : matches) {
    if (match.value == Match::Value::kNo) return Match::no();
    if (match.value == Match::Value::kUnknown && out.value == Match::Value::kYes) out = match;
  }
  return out;
}

// OR: any yes is yes; else any unknown is unknown.
Match any_of(const std::vector<Match>& matches) {
  Match out = Match::no();
  for (const auto& match : matches) {
    if (match.value == Match::Value::kYes) return Match::yes();
    if (match.value == Match::Value::kUnknown && out.value == Match::Value::kNo) out = match;
  }
  return out;
}

Match negated(Match match) {
  if (match.value == Match::Value::kYes) return Match::no();
  if (match.value == Match::Value::kNo) return Match::yes();
  return match;
}

// Istio's string match: "*" any non-empty value, "abc*" prefix, "*abc" suffix, else exact.
bool string_matches(std::string_view pattern, std::string_view value) {
  if (pattern == "*") return !value.empty();
  if (pattern.size() > 1 && pattern.back() == '*')
    return value.starts_with(pattern.substr(0, pattern.size() - 1));
  if (pattern.size() > 1 && pattern.front() == '*') return value.ends_with(pattern.substr(1));
  return pattern == value;
}

bool any_matches(const std::vector<std::string>& patterns, std::string_view value) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& pattern) { return string_matches(pattern, value); });
}

bool covers_every_address(const std::vector<std::string>& blocks) {
  return std::any_of(blocks.begin(), blocks.end(), [](const std::string& block) {
    return block == "0.0.0.0/0" || block == "::/0";
  });
}

// The path Istio matches: without the query.
std::string path_of(const KubeletRequest& request) {
  return request.path.substr(0, request.path.find('?'));
}

// One field of a source or an operation, for the kubelet's plaintext request.
Match field_matches(const std::string& field, const std::vector<std::string>& values,
                    const KubeletRequest& request) {
  // What a plaintext request without a JWT does not have: a "positive" list never matches it,
  // a "not" list always does.
  static const std::set<std::string> kAbsent{"principals", "requestPrincipals", "namespaces"};
  static const std::set<std::string> kNotAbsent{"notPrincipals", "notRequestPrincipals",
                                                "notNamespaces"};
  if (kAbsent.count(field)) return Match::no();
  if (kNotAbsent.count(field)) return Match::yes();
  if (field == "ipBlocks" || field == "remoteIpBlocks") {
    if (covers_every_address(values)) return Match::yes();
    return Match::unknown(field + " (the node's address is not known here)");
  }
  if (field == "notIpBlocks" || field == "notRemoteIpBlocks") {
    if (covers_every_address(values)) return Match::no();
    return Match::unknown(field + " (the node's address is not known here)");
  }
  if (field == "hosts") {
    if (std::find(values.begin(), values.end(), "*") != values.end()) return Match::yes();
    return Match::unknown("hosts (the kubelet sends the pod's own address)");
  }
  if (field == "notHosts") {
    if (std::find(values.begin(), values.end(), "*") != values.end()) return Match::no();
    return Match::unknown("notHosts (the kubelet sends the pod's own address)");
  }
  const std::string port = std::to_string(request.port);
  const std::string path = path_of(request);
  if (field == "ports") return any_matches(values, port) ? Match::yes() : Match::no();
  if (field == "notPorts") return any_matches(values, port) ? Match::no() : Match::yes();
  if (field == "methods") return any_matches(values, request.method) ? Match::yes() : Match::no();
  if (field == "notMethods")
    return any_matches(values, request.method) ? Match::no() : Match::yes();
  if (field == "paths") return any_matches(values, path) ? Match::yes() : Match::no();
  if (field == "notPaths") return any_matches(values, path) ? Match::no() : Match::yes();
  return Match::unknown("the field " + field + " is not modelled");
}

Match fields_match(const AuthorizationFields& fields, const KubeletRequest& request) {
  std::vector<Match> matches;
  for (const auto& [field, values] : fields)
    matches.push_back(field_matches(field, values, request));
  return all_of(matches);
}

Match condition_matches(const AuthorizationCondition& condition, const KubeletRequest& request) {
  // Attributes a plaintext request without a JWT does not have.
  const bool absent = condition.key == "source.principal" || condition.key == "source.namespace" ||
                      condition.key == "connection.sni" ||
                      condition.key.starts_with("request.auth.");
  std::optional<std::string> value;
  if (condition.key == "destination.port") {
    value = std::to_string(request.port);
  } else if (!absent) {
    return Match::unknown("the condition key " + condition.key + " is not modelled");
  }
  auto matches = [&](const std::vector<std::string>& patterns) {
    return value && any_matches(patterns, *value);
  };
  std::vector<Match> parts;
  if (!condition.values.empty())
    parts.push_back(matches(condition.values) ? Match::yes() : Match::no());
  if (!condition.not_values.empty())
    parts.push_back(matches(condition.not_values) ? Match::no() : Match::yes());
  return all_of(parts);
}

Match rule_matches(const AuthorizationRule& rule, const KubeletRequest& request) {
  std::vector<Match> parts;
  if (!rule.from.empty()) {
    std::vector<Match> sources;
    for (const auto& source : rule.from) sources.push_back(fields_match(source, request));
    parts.push_back(any_of(sources));
  }
  if (!rule.to.empty()) {
    std::vector<Match> operations;
    for (const auto& operation : rule.to) operations.push_back(fields_match(operation, request));
    parts.push_back(any_of(operations));
  }
  for (const auto& condition : rule.when) parts.push_back(condition_matches(condition, request));
  return all_of(parts);
}

Match policy_matches(const AuthorizationPolicy& policy, const KubeletRequest& request) {
  std::vector<Match> rules;
  for (const auto& rule : policy.rules) rules.push_back(rule_matches(rule, request));
  return any_of(rules);
}

// ---- parsing ----

Result<std::vector<std::string>> string_list(const json& value, const std::string& field) {
  if (!value.is_array()) return Error{field + ": must be a list of strings"};
  std::vector<std::string> out;
  for (const auto& item : value) {
    if (!item.is_string()) return Error{field + ": must be a list of strings"};
    out.push_back(item.get<std::string>());
  }
  return out;
}

// rules[i].from[j].source or rules[i].to[j].operation.
Result<std::vector<AuthorizationFields>> parse_clauses(const json& rule, const char* list,
                                                       const char* inner,
                                                       const std::string& field) {
  std::vector<AuthorizationFields> out;
  const json* clauses = find_member(rule, list);
  if (clauses == nullptr || clauses->is_null()) return out;
  if (!clauses->is_array()) return Error{field + "." + list + ": must be a list"};
  for (std::size_t i = 0; i < clauses->size(); ++i) {
    const std::string at = field + "." + list + "[" + std::to_string(i) + "]." + inner;
    const json* body = find_member((*clauses)[i], inner);
    AuthorizationFields fields;
    if (body != nullptr && !body->is_null()) {
      if (!body->is_object()) return Error{at + ": must be an object"};
      for (const auto& [key, value] : body->items()) {
        auto values = string_list(value, at + "." + key);
        if (!values) return values.error();
        fields[key] = std::move(values).value();
      }
    }
    out.push_back(std::move(fields));
  }
  return out;
}

Result<AuthorizationRule> parse_rule(const json& rule, const std::string& field) {
  if (!rule.is_object()) return Error{field + ": must be an object"};
  AuthorizationRule out;
  auto from = parse_clauses(rule, "from", "source", field);
  if (!from) return from.error();
  out.from = std::move(from).value();
  auto to = parse_clauses(rule, "to", "operation", field);
  if (!to) return to.error();
  out.to = std::move(to).value();
  if (const json* when = find_member(rule, "when"); when != nullptr && !when->is_null()) {
    if (!when->is_array()) return Error{field + ".when: must be a list"};
    for (std::size_t i = 0; i < when->size(); ++i) {
      const std::string at = field + ".when[" + std::to_string(i) + "]";
      const json& item = (*when)[i];
      auto key = string_member(item, "key");
      if (!key) return Error{at + ".key: must be a string"};
      AuthorizationCondition condition{*key, {}, {}};
      for (auto [name, target] : {std::pair{"values", &condition.values},
                                  std::pair{"notValues", &condition.not_values}}) {
        const json* values = find_member(item, name);
        if (values == nullptr || values->is_null()) continue;
        auto parsed = string_list(*values, at + "." + name);
        if (!parsed) return parsed.error();
        *target = std::move(parsed).value();
      }
      out.when.push_back(std::move(condition));
    }
  }
  return out;
}

}  // namespace

std::string_view authorization_action_name(AuthorizationAction action) {
  switch (action) {
    case AuthorizationAction::kAllow:
      return "ALLOW";
    case AuthorizationAction::kDeny:
      return "DENY";
    case AuthorizationAction::kAudit:
      return "AUDIT";
    case AuthorizationAction::kCustom:
      return "CUSTOM";
  }
  return "ALLOW";
}

std::string AuthorizationPolicy::reference() const {
  return "AuthorizationPolicy " + namespace_name + "/" + name + " (" +
         std::string(authorization_action_name(action)) + ")";
}

Result<AuthorizationPolicy> parse_authorization_policy(const json& object) {
  auto identity = parse_object_identity(object);
  if (!identity) return identity.error();
  AuthorizationPolicy policy;
  policy.namespace_name = identity->namespace_name;
  policy.name = identity->name;
  policy.creation_timestamp = identity->creation_timestamp;
  const json* spec = find_member(object, "spec");
  if (spec == nullptr || spec->is_null()) return policy;  // spec {}: ALLOW nothing
  if (!spec->is_object()) return Error{"spec: must be an object"};
  if (const json* selector = find_member(*spec, "selector");
      selector != nullptr && !selector->is_null()) {
    const json* labels = find_member(*selector, "matchLabels");
    if (labels != nullptr && !labels->is_null()) {
      if (!labels->is_object()) return Error{"spec.selector.matchLabels: must be a map"};
      for (const auto& [key, value] : labels->items()) {
        if (!value.is_string()) return Error{"spec.selector.matchLabels." + key + ": not a string"};
        policy.match_labels[key] = value.get<std::string>();
      }
    }
  }
  for (const char* key : {"targetRef", "targetRefs"}) {
    const json* target = find_member(*spec, key);
    if (target != nullptr && !target->is_null() && !(target->is_array() && target->empty()))
      policy.targets = true;
  }
  if (const json* action = find_member(*spec, "action"); action != nullptr && !action->is_null()) {
    const std::string text = action->is_string() ? action->get<std::string>() : action->dump();
    if (text == "ALLOW") {
      policy.action = AuthorizationAction::kAllow;
    } else if (text == "DENY") {
      policy.action = AuthorizationAction::kDeny;
    } else if (text == "AUDIT") {
      policy.action = AuthorizationAction::kAudit;
    } else if (text == "CUSTOM") {
      policy.action = AuthorizationAction::kCustom;
    } else {
      return Error{"spec.action: must be ALLOW, DENY, AUDIT or CUSTOM, got " + action->dump()};
    }
  }
  if (const json* provider = find_member(*spec, "provider")) {
    policy.provider = string_member(*provider, "name").value_or("");
  }
  if (const json* rules = find_member(*spec, "rules"); rules != nullptr && !rules->is_null()) {
    if (!rules->is_array()) return Error{"spec.rules: must be a list"};
    for (std::size_t i = 0; i < rules->size(); ++i) {
      auto rule = parse_rule((*rules)[i], "spec.rules[" + std::to_string(i) + "]");
      if (!rule) return rule.error();
      policy.rules.push_back(std::move(rule).value());
    }
  }
  return policy;
}

std::vector<AuthorizationPolicy> applicable_authorization_policies(
    std::span<const AuthorizationPolicy> policies, std::string_view root_namespace,
    std::string_view workload_namespace, const Labels& workload_labels) {
  std::vector<AuthorizationPolicy> out;
  for (const auto& policy : policies) {
    if (policy.targets || policy.action == AuthorizationAction::kAudit) continue;
    if (policy.namespace_name != workload_namespace && policy.namespace_name != root_namespace)
      continue;
    const bool selected =
        std::all_of(policy.match_labels.begin(), policy.match_labels.end(), [&](const auto& entry) {
          auto it = workload_labels.find(entry.first);
          return it != workload_labels.end() && it->second == entry.second;
        });
    if (selected) out.push_back(policy);
  }
  // A stable order, so that messages do not depend on the cache's.
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.namespace_name, a.name) < std::tie(b.namespace_name, b.name);
  });
  return out;
}

AccessVerdict kubelet_access(std::span<const AuthorizationPolicy> policies,
                             const KubeletRequest& request) {
  using Access = AccessVerdict::Access;
  const std::string what = "the kubelet's plaintext " + request.method + " :" +
                           std::to_string(request.port) + path_of(request);
  std::optional<AccessVerdict> unknown;
  auto note_unknown = [&](const AuthorizationPolicy& policy, const std::string& why) {
    if (!unknown)
      unknown = AccessVerdict{Access::kUnknown, "cannot tell whether " + policy.reference() +
                                                    " lets " + what + " through: " + why};
  };
  for (const auto& policy : policies) {
    if (policy.action != AuthorizationAction::kCustom) continue;
    const Match match = policy_matches(policy, request);
    if (match.value == Match::Value::kYes)
      note_unknown(policy, "its external provider \"" + policy.provider + "\" decides");
    else if (match.value == Match::Value::kUnknown)
      note_unknown(policy, match.why);
  }
  for (const auto& policy : policies) {
    if (policy.action != AuthorizationAction::kDeny) continue;
    const Match match = policy_matches(policy, request);
    if (match.value == Match::Value::kYes)
      return {Access::kDenied, policy.reference() + " denies " + what};
    if (match.value == Match::Value::kUnknown) note_unknown(policy, match.why);
  }
  if (unknown) return *unknown;
  std::vector<std::string> allow_policies;
  std::optional<AccessVerdict> allow_unknown;
  for (const auto& policy : policies) {
    if (policy.action != AuthorizationAction::kAllow) continue;
    allow_policies.push_back(policy.namespace_name + "/" + policy.name);
    const Match match = policy_matches(policy, request);
    if (match.value == Match::Value::kYes) return {Access::kAllowed, ""};
    if (match.value == Match::Value::kUnknown && !allow_unknown)
      allow_unknown =
          AccessVerdict{Access::kUnknown, "cannot tell whether " + policy.reference() + " lets " +
                                              what + " through: " + match.why};
  }
  if (allow_policies.empty()) return {Access::kAllowed, ""};
  if (allow_unknown) return *allow_unknown;
  std::string names;
  for (const auto& name : allow_policies) names += (names.empty() ? "" : ", ") + name;
  return {Access::kDenied,
          "no rule of the ALLOW AuthorizationPolicies (" + names + ") allows " + what};
}

}  // namespace meshprobe::probe
