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
  return report.before + " -> " + report.after;
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
    summary.reason = decision.source == DecisionSource::kTemplateAnnotation
                         ? ConditionReason::kDisabledByAnnotation
                     : decision.source == DecisionSource::kPolicy
                         ? ConditionReason::kDisabledByPolicy
                         : ConditionReason::kDisabledGlobally;
    parts.push_back("rewriting is off by " + decision.message);
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
