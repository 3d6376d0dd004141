#include "probe/condition.h"

#include <cctype>
#include <functional>

namespace meshprobe::probe {
namespace {

std::string probe_name(const ProbeReport& report) {
  return "container " + report.container + " " + std::string(slot_name(report.slot));
}

// "a (x), b (y)" over the reports with `outcome`; `detail` gives the text in brackets.
std::string list_of(const RewriteResult& result, ProbeOutcome outcome,
                    const std::function<std::string(const ProbeReport&)>& detail) {
  std::string out;
  for (const auto& report : result.probes) {
    if (report.outcome != outcome) continue;
    out += (out.empty() ? "" : "; ") + probe_name(report) + " (" + detail(report) + ")";
  }
  return out;
}

std::string plural(int count, const char* noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

std::string rewritten_detail(const ProbeReport& report) {
  return report.before + " -> " + report.after +
         (report.reason.empty() ? "" : "; " + report.reason);
}
std::string reason_detail(const ProbeReport& report) {
  return report.before + ": " + report.reason;
}

// Cuts at the last "; " that fits and says how many entries were left out.
std::string bounded(std::string message) {
  if (message.size() <= kMaxConditionMessage) return message;
  const std::size_t budget = kMaxConditionMessage - 32;
  std::size_t cut = message.rfind("; ", budget);
  if (cut == std::string::npos) cut = budget;
  std::size_t left_out = 0;
  for (std::size_t at = message.find("; ", cut); at != std::string::npos;
       at = message.find("; ", at + 2))
    ++left_out;
  return message.substr(0, cut) + "; ... (" + std::to_string(left_out) + " more)";
}

ConditionReason outside_mesh_reason(DataPlane data_plane) {
  switch (data_plane) {
    case DataPlane::kAmbient:
      return ConditionReason::kAmbient;
    case DataPlane::kProxylessGrpc:
      return ConditionReason::kProxylessGrpc;
    case DataPlane::kNone:
    case DataPlane::kSidecar:
      break;
  }
  return ConditionReason::kNotInMesh;
}

ConditionReason disabled_reason(const Decision& decision) {
  switch (decision.source) {
    case DecisionSource::kTemplateAnnotation:
      return ConditionReason::kDisabledByAnnotation;
    case DecisionSource::kPolicy:
      return ConditionReason::kDisabledByPolicy;
    case DecisionSource::kMeshScope:
      return outside_mesh_reason(decision.mesh.data_plane);
    case DecisionSource::kGlobalToggle:
      break;
  }
  return ConditionReason::kDisabledGlobally;
}

const std::string kHeldText = "meshprobe holds Istio's probe rewrite off for these pods (" +
                              std::string(kRewriteAppProbersAnnotation) +
                              "=\"False\", recorded in " +
                              std::string(kIstioRewriteHoldAnnotation) + ")";

// What Istio's injector does to the probes meshprobe leaves as they are; empty when it does
// not inject these pods.
std::string istio_on_kept_probes(const Decision& decision, const RewriteResult& result) {
  if (result.held) return kHeldText + ", so Istio's injector leaves them as they are";
  if (decision.istio.rewrites)
    return "Istio's injector rewrites them to pilot-agent at admission (" + decision.istio.setting +
           ")";
  if (decision.istio.injects)
    return "Istio's injector leaves them as they are (" + decision.istio.setting + ")";
  return "";
}

}  // namespace

std::string_view condition_reason_name(ConditionReason reason) {
  switch (reason) {
    case ConditionReason::kRewritten:
      return "Rewritten";
    case ConditionReason::kDisabledByAnnotation:
      return "DisabledByAnnotation";
    case ConditionReason::kDisabledByPolicy:
      return "DisabledByPolicy";
    case ConditionReason::kDisabledGlobally:
      return "DisabledGlobally";
    case ConditionReason::kNotRequired:
      return "NotRequired";
    case ConditionReason::kNoRewritableProbes:
      return "NoRewritableProbes";
    case ConditionReason::kInvalidProbe:
      return "InvalidProbe";
    case ConditionReason::kConflictingWriter:
      return "ConflictingWriter";
    case ConditionReason::kNotInMesh:
      return "NotInMesh";
    case ConditionReason::kAmbient:
      return "Ambient";
    case ConditionReason::kProxylessGrpc:
      return "ProxylessGrpc";
    case ConditionReason::kLeftToIstio:
      return "LeftToIstio";
    case ConditionReason::kOwnedByController:
      return "OwnedByController";
    case ConditionReason::kRolloutQueued:
      return "RolloutQueued";
  }
  return "Rewritten";
}

ConditionSummary summarize(const Decision& decision, const RewriteResult& result) {
  ConditionSummary summary;
  std::vector<std::string> parts;
  const int invalid = result.count(ProbeOutcome::kInvalid) + result.count(ProbeOutcome::kMalformed);
  const int rewritten = result.count(ProbeOutcome::kRewritten);
  summary.status = decision.rewrite && rewritten > 0;

  if (!decision.rewrite) {
    summary.reason = disabled_reason(decision);
    if (decision.source == DecisionSource::kMeshScope) {
      parts.push_back("not rewritten: " + decision.message);
      parts.push_back("a HealthProbePolicy with mode Always, or the pod template's annotation " +
                      std::string(kRewriteAppProbersAnnotation) +
                      "=\"true\", has meshprobe rewrite it anyway");
    } else {
      parts.push_back("rewriting is off by " + decision.message);
    }
    if (result.held) parts.push_back(kHeldText + ": the kubelet probes the application directly");
    if (int restored = result.count(ProbeOutcome::kRestored)) {
      parts.push_back(
          "restored " + plural(restored, "probe") + ": " +
          list_of(result, ProbeOutcome::kRestored, [](const ProbeReport& r) { return r.reason; }));
    }
    if (result.count(ProbeOutcome::kUserChanged)) {
      parts.push_back("kept as changed since the rewrite: " +
                      list_of(result, ProbeOutcome::kUserChanged, reason_detail));
    }
    if (invalid)
      parts.push_back("cannot restore: " + list_of(result, ProbeOutcome::kInvalid, reason_detail));
  } else {
    if (invalid) {
      summary.reason = ConditionReason::kInvalidProbe;
      std::string problems = list_of(result, ProbeOutcome::kInvalid, reason_detail);
      std::string malformed = list_of(result, ProbeOutcome::kMalformed, reason_detail);
      parts.push_back(plural(invalid, "probe") + " cannot be rewritten, left as is: " + problems +
                      (problems.empty() || malformed.empty() ? "" : "; ") + malformed);
    } else if (rewritten) {
      summary.reason = ConditionReason::kRewritten;
    } else if (result.count(ProbeOutcome::kLeftToIstio)) {
      summary.reason = ConditionReason::kLeftToIstio;
    } else if (result.count(ProbeOutcome::kNotRequired)) {
      summary.reason = ConditionReason::kNotRequired;
    } else if (result.count(ProbeOutcome::kExcludedByPolicy)) {
      summary.reason = ConditionReason::kDisabledByPolicy;
    } else {
      summary.reason = ConditionReason::kNoRewritableProbes;
      parts.push_back("no httpGet, tcpSocket or grpc probe or lifecycle hook to rewrite");
    }
    if (rewritten) {
      parts.push_back(plural(rewritten, "probe") + " rewritten to the meshprobe agent: " +
                      list_of(result, ProbeOutcome::kRewritten, rewritten_detail));
    }
    if (result.count(ProbeOutcome::kNotRequired)) {
      parts.push_back("not rewritten: " +
                      list_of(result, ProbeOutcome::kNotRequired, reason_detail));
    }
    if (result.count(ProbeOutcome::kExcludedByPolicy)) {
      parts.push_back("outside the policy: " +
                      list_of(result, ProbeOutcome::kExcludedByPolicy, reason_detail));
    }
    if (result.count(ProbeOutcome::kNotRequired) || result.count(ProbeOutcome::kExcludedByPolicy)) {
      if (auto istio = istio_on_kept_probes(decision, result); !istio.empty())
        parts.push_back(istio);
    } else if (result.held) {
      parts.push_back(kHeldText + ", so Istio's injector leaves meshprobe's probes as they are");
    }
    if (int left = result.count(ProbeOutcome::kLeftToIstio)) {
      parts.push_back(
          "left to Istio: " + list_of(result, ProbeOutcome::kLeftToIstio, reason_detail) +
          ". To hand " + (left == 1 ? "it" : "them") +
          " to meshprobe instead, render the manifest without Istio's probe rewrite (meshprobe "
          "inject before istioctl kube-inject, or istioctl kube-inject with "
          "sidecarInjectorWebhook.rewriteAppHTTPProbe=false)");
    }
    parts.push_back("decided by " + decision.message);
  }
  for (const auto& note : decision.notes) parts.push_back("note: " + note);
  for (const auto& note : result.notes) parts.push_back("note: " + note);
  for (std::string& part : parts) {  // sentences: "Rewriting is off by .... Restored 1 probe: ...."
    part[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(part[0])));
    summary.message += (summary.message.empty() ? "" : ". ") + part;
  }
  summary.message = bounded(summary.message + ".");
  return summary;
}

}  // namespace meshprobe::probe
