#include "probe/rewrite_scope.h"

#include <array>

namespace meshprobe::probe {
namespace {

constexpr std::array<std::pair<ProbeFamily, std::string_view>, 4> kFamilyNames{{
    {ProbeFamily::kLiveness, "liveness"},
    {ProbeFamily::kReadiness, "readiness"},
    {ProbeFamily::kStartup, "startup"},
    {ProbeFamily::kLifecycle, "lifecycle"},
}};

constexpr std::array<std::pair<ProbeProtocol, std::string_view>, 3> kProtocolNames{{
    {ProbeProtocol::kHttp, "HTTP"},
    {ProbeProtocol::kTcp, "TCP"},
    {ProbeProtocol::kGrpc, "GRPC"},
}};

template <typename Enum, std::size_t N>
std::string_view name_in(const std::array<std::pair<Enum, std::string_view>, N>& names,
                         Enum value) {
  for (const auto& [candidate, name] : names) {
    if (candidate == value) return name;
  }
  return names[0].second;  // unreachable: every enumerator is listed
}

template <typename Enum, std::size_t N>
std::optional<Enum> value_in(const std::array<std::pair<Enum, std::string_view>, N>& names,
                             std::string_view name) {
  for (const auto& [value, candidate] : names) {
    if (candidate == name) return value;
  }
  return std::nullopt;
}

template <typename Set, typename Name>
std::string joined(const Set& values, Name name_of) {
  std::string out;
  for (auto value : values) out += (out.empty() ? "" : ", ") + std::string(name_of(value));
  return out;
}

}  // namespace

ProbeFamily family_of(ProbeSlot slot) {
  switch (slot) {
    case ProbeSlot::kLiveness:
      return ProbeFamily::kLiveness;
    case ProbeSlot::kReadiness:
      return ProbeFamily::kReadiness;
    case ProbeSlot::kStartup:
      return ProbeFamily::kStartup;
    case ProbeSlot::kPreStop:
    case ProbeSlot::kPostStart:
      return ProbeFamily::kLifecycle;
  }
  return ProbeFamily::kLiveness;
}

std::string_view family_name(ProbeFamily family) { return name_in(kFamilyNames, family); }
std::string_view protocol_name(ProbeProtocol protocol) { return name_in(kProtocolNames, protocol); }
std::optional<ProbeFamily> parse_probe_family(std::string_view name) {
  return value_in(kFamilyNames, name);
}
std::optional<ProbeProtocol> parse_probe_protocol(std::string_view name) {
  return value_in(kProtocolNames, name);
}

std::optional<ScopeExclusion> RewriteScope::policy_exclusion(ProbeSlot slot,
                                                             ProbeProtocol protocol) const {
  using Kind = ScopeExclusion::Kind;
  if (!families.count(family_of(slot))) {
    return ScopeExclusion{Kind::kByPolicy,
                          origin + " covers only " + joined(families, family_name) + " probes"};
  }
  if (!protocols.count(protocol)) {
    return ScopeExclusion{Kind::kByPolicy,
                          origin + " covers only " + joined(protocols, protocol_name) + " probes"};
  }
  return std::nullopt;
}

std::optional<ScopeExclusion> RewriteScope::exclusion(const ProbeCandidate& candidate,
                                                      std::string* required_because) const {
  using Kind = ScopeExclusion::Kind;
  if (auto excluded = policy_exclusion(candidate.slot, candidate.protocol)) return excluded;
  if (!when_required) return std::nullopt;
  const std::string port = "port " + std::to_string(candidate.port);
  if (!candidate.port_captured) {
    return ScopeExclusion{Kind::kNotRequired, "not required: the sidecar does not capture " + port};
  }
  if (candidate.protocol == ProbeProtocol::kTcp) {
    if (when_required->mesh.in_mesh) return std::nullopt;
    return ScopeExclusion{Kind::kNotRequired, "not required: the workload is not in the mesh (" +
                                                  when_required->mesh.reason + ")"};
  }
  const auto& mode = when_required->mtls.for_port(candidate.port);
  if (mode.mode == MtlsMode::kStrict) return std::nullopt;
  using Access = AccessVerdict::Access;
  const AccessVerdict access =
      kubelet_access(when_required->authorization,
                     {candidate.port, std::string(candidate.method), std::string(candidate.path)});
  if (access.access != Access::kAllowed) {
    if (required_because != nullptr) {
      *required_because = "required: " + access.reason +
                          (access.access == Access::kUnknown ? "; rewritten to be safe" : "");
    }
    return std::nullopt;
  }
  return ScopeExclusion{Kind::kNotRequired,
                        "not required: mTLS on " + port + " is " + mode.describe() +
                            (when_required->authorization.empty()
                                 ? ""
                                 : ", and Istio's AuthorizationPolicies let the kubelet through")};
}

}  // namespace meshprobe::probe
