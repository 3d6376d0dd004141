#include "probe/peer_authentication.h"

#include <charconv>
#include <tuple>

#include "probe/object_fields.h"

namespace meshprobe::probe {
namespace {

using nlohmann::json;

Result<MtlsMode> parse_mode(const json& mtls, const std::string& field) {
  if (mtls.is_null()) return MtlsMode::kUnset;
  if (!mtls.is_object()) return Error{field + ": must be an object"};
  auto mode = mtls.find("mode");
  if (mode == mtls.end() || mode->is_null()) return MtlsMode::kUnset;
  const std::string text = mode->is_string() ? mode->get<std::string>() : mode->dump();
  if (text == "UNSET") return MtlsMode::kUnset;
  if (text == "DISABLE") return MtlsMode::kDisable;
  if (text == "PERMISSIVE") return MtlsMode::kPermissive;
  if (text == "STRICT") return MtlsMode::kStrict;
  return Error{field + ".mode: must be UNSET, DISABLE, PERMISSIVE or STRICT, got " + mode->dump()};
}

std::string reference(const PeerAuthentication& policy) {
  return "PeerAuthentication " + policy.namespace_name + "/" + policy.name;
}

// Istio's order: oldest first, then by name.
bool older(const PeerAuthentication& a, const PeerAuthentication& b) {
  return std::tie(a.creation_timestamp, a.name) < std::tie(b.creation_timestamp, b.name);
}

void keep_oldest(const PeerAuthentication*& chosen, const PeerAuthentication& candidate) {
  if (chosen == nullptr || older(candidate, *chosen)) chosen = &candidate;
}

}  // namespace

std::string_view mtls_mode_name(MtlsMode mode) {
  switch (mode) {
    case MtlsMode::kUnset:
      return "UNSET";
    case MtlsMode::kDisable:
      return "DISABLE";
    case MtlsMode::kPermissive:
      return "PERMISSIVE";
    case MtlsMode::kStrict:
      return "STRICT";
  }
  return "UNSET";
}

std::string SourcedMtlsMode::describe() const {
  return std::string(mtls_mode_name(mode)) + " (" + source + ")";
}

Result<PeerAuthentication> parse_peer_authentication(const json& object) {
  auto identity = parse_object_identity(object);
  if (!identity) return identity.error();
  PeerAuthentication policy;
  policy.namespace_name = identity->namespace_name;
  policy.name = identity->name;
  policy.creation_timestamp = identity->creation_timestamp;

  const json& spec = object.contains("spec") ? object["spec"] : json();
  if (spec.is_null())
    return policy;  // an empty spec is a valid mesh/namespace PERMISSIVE-inheriting policy
  if (!spec.is_object()) return Error{"spec: must be an object"};
  if (auto selector = spec.find("selector"); selector != spec.end() && !selector->is_null()) {
    auto parsed = parse_label_selector(*selector, "spec.selector");
    if (!parsed) return parsed.error();
    if (!parsed->match_expressions.empty()) {
      return Error{
          "spec.selector.matchExpressions: PeerAuthentication selects workloads by matchLabels "
          "only"};
    }
    policy.match_labels = parsed->match_labels;
  }
  auto mode = parse_mode(spec.contains("mtls") ? spec["mtls"] : json(), "spec.mtls");
  if (!mode) return mode.error();
  policy.mode = *mode;
  if (auto ports = spec.find("portLevelMtls"); ports != spec.end() && !ports->is_null()) {
    if (!ports->is_object()) return Error{"spec.portLevelMtls: must be a map from port to {mode}"};
    for (const auto& [key, value] : ports->items()) {
      const std::string field = "spec.portLevelMtls." + key;
      int port = 0;
      auto [end, error] = std::from_chars(key.data(), key.data() + key.size(), port);
      if (error != std::errc() || end != key.data() + key.size() || port < 1 || port > 65535) {
        return Error{field + ": port must be an integer in 1..65535"};
      }
      auto port_mode = parse_mode(value, field);
      if (!port_mode) return port_mode.error();
      policy.port_level[port] = *port_mode;
    }
  }
  return policy;
}

const SourcedMtlsMode& EffectiveMtls::for_port(int port) const {
  auto it = per_port.find(port);
  return it != per_port.end() ? it->second : workload;
}

EffectiveMtls effective_mtls(std::span<const PeerAuthentication> policies,
                             std::string_view root_namespace, std::string_view workload_namespace,
                             const Labels& workload_labels) {
  const PeerAuthentication* mesh = nullptr;
  const PeerAuthentication* namespace_wide = nullptr;
  const PeerAuthentication* workload = nullptr;
  for (const auto& policy : policies) {
    const bool in_root = policy.namespace_name == root_namespace;
    if (!in_root && policy.namespace_name != workload_namespace) continue;
    if (policy.match_labels.empty()) {
      keep_oldest(in_root ? mesh : namespace_wide, policy);
    } else if (!in_root && LabelSelector{policy.match_labels, {}}.matches(workload_labels)) {
      keep_oldest(workload, policy);
    }
  }
  EffectiveMtls out;
  out.workload = {MtlsMode::kPermissive, "default, no PeerAuthentication sets a mode"};
  const std::pair<const PeerAuthentication*, const char*> levels[] = {
      {mesh, "mesh level"}, {namespace_wide, "namespace level"}, {workload, "workload level"}};
  for (const auto& [policy, level] : levels) {
    if (policy != nullptr && policy->mode != MtlsMode::kUnset) {
      out.workload = {policy->mode, reference(*policy) + ", " + level};
    }
  }
  if (workload != nullptr) {
    for (const auto& [port, mode] : workload->port_level) {
      out.per_port[port] =
          mode == MtlsMode::kUnset
              ? out.workload
              : SourcedMtlsMode{mode, reference(*workload) + ", port " + std::to_string(port)};
    }
  }
  return out;
}

}  // namespace meshprobe::probe
