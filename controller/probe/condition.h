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

// DESIGN.md "Status". kConflictingWriter is the operator's own (summarize() never returns it).
// Outside Istio's sidecar mesh (decided by the mesh scope, not by a toggle): kNotInMesh,
// kAmbient, kProxylessGrpc. kLeftToIstio: every rewritable probe was already rewritten by
// Istio (istioctl kube-inject output).
enum class ConditionReason {
  kRewritten,
  kDisabledByAnnotation,
  kDisabledByPolicy,
  kDisabledGlobally,
  kNotRequired,
  kNoRewritableProbes,
  kInvalidProbe,
  kConflictingWriter,
  kNotInMesh,
  kAmbient,
  kProxylessGrpc,
  kLeftToIstio,
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

// `result` is what apply_decision() gave. Reason, in order: the decision's Disabled* or
// NotInMesh/Ambient/ProxylessGrpc when it turned rewriting off; InvalidProbe when a probe could
// not be rewritten (even if others were); Rewritten; LeftToIstio (Istio rewrote them all);
// NotRequired (WhenRequired found nothing that breaks); DisabledByPolicy (the policy's
// probes/protocols cover none of them); NoRewritableProbes. The message also says what Istio's
// injector does to the probes meshprobe leaves, and whether meshprobe holds it off.
ConditionSummary summarize(const Decision& decision, const RewriteResult& result);

}  // namespace meshprobe::probe
