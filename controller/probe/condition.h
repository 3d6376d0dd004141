// The HealthProbesRewritten condition a workload gets: status, reason and a message a
// person can read, from the decision and the probe reports of rewrite() or restore().
// Stable: the same inputs give the same text (no times, no map-order dependence), so an
// unchanged workload never gets a new condition write.
#pragma once

#include <string>
#include <string_view>

#include "probe/decision.h"
#include "probe/rewrite.h"

namespace meshprobe::probe {

inline constexpr std::string_view kConditionType = "HealthProbesRewritten";

// DESIGN.md "Status". kConflictingWriter, kOwnedByController and kRolloutQueued are the
// operator's own (summarize() never returns them; docs/workloads.md).
enum class ConditionReason {
  kRewritten,
  kDisabledByAnnotation,
  kDisabledByPolicy,
  kDisabledGlobally,
  kNotRequired,
  kNoRewritableProbes,
  kInvalidProbe,
  kConflictingWriter,
  kOwnedByController,  // another controller owns the workload: its template is left alone
  kRolloutQueued,      // the change waits for a rollout slot (maxConcurrentRollouts)
};
std::string_view condition_reason_name(ConditionReason reason);  // "Rewritten", ...

struct ConditionSummary {
  bool status = false;  // true when at least one probe is rewritten
  ConditionReason reason = ConditionReason::kNoRewritableProbes;
  std::string message;
  bool operator==(const ConditionSummary&) const = default;
};

// The longest message summarize() writes; longer lists end in "... (N more)".
inline constexpr std::size_t kMaxConditionMessage = 2048;

// `result` is what rewrite() gave when decision.rewrite, else what restore() gave.
// Reason, in order: the decision's Disabled* when it turned rewriting off; InvalidProbe when a
// probe could not be rewritten (even if others were); Rewritten; NotRequired (WhenRequired
// found nothing that breaks); DisabledByPolicy (the policy's probes/protocols cover none of
// them); NoRewritableProbes.
ConditionSummary summarize(const Decision& decision, const RewriteResult& result);

}  // namespace meshprobe::probe
