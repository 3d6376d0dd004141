// Status conditions with Kubernetes' semantics (metav1.Condition, and apps/v1
// DeploymentCondition): upsert by type, lastTransitionTime moves only when status moves, and
// nothing is written when nothing changed. Pure: the caller passes the time as RFC 3339 text.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace meshprobe::controller {

struct Condition {
  std::string type;
  std::string status;  // "True", "False" or "Unknown"
  std::string reason;
  std::string message;
  std::optional<long long> observed_generation;  // metav1.Condition only
};

enum class ConditionShape {
  kDeployment,  // apps/v1 DeploymentCondition: lastUpdateTime and lastTransitionTime
  kMetav1,      // metav1.Condition: observedGeneration and lastTransitionTime
  kPlain,       // StatefulSetCondition, DaemonSetCondition: lastTransitionTime only
};

// The condition entry to write so that `existing_conditions` (a status.conditions array, or
// null) holds `desired`, or nullopt when it already does. Only this entry is written (with
// server-side apply the list is a map keyed by type), so other writers' conditions are kept.
std::optional<nlohmann::json> condition_to_write(const nlohmann::json& existing_conditions,
                                                 const Condition& desired, ConditionShape shape,
                                                 std::string_view now_rfc3339);

// metav1.Time as the API writes it: "2026-01-01T00:00:00Z" (whole seconds, UTC).
std::string format_time(std::chrono::system_clock::time_point time);

// The entry of `type` in a conditions array, or nullptr.
const nlohmann::json* find_condition(const nlohmann::json& conditions, std::string_view type);

}  // namespace meshprobe::controller
