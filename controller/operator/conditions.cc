#include "operator/conditions.h"

#include <ctime>

namespace meshprobe::controller {

using nlohmann::json;

std::string format_time(std::chrono::system_clock::time_point time) {
  const std::time_t seconds =
      std::chrono::system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(time));
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

const json* find_condition(const json& conditions, std::string_view type) {
  if (!conditions.is_array()) return nullptr;
  for (const auto& entry : conditions) {
    if (entry.is_object() && entry.value("type", "") == type) return &entry;
  }
  return nullptr;
}

std::optional<json> condition_to_write(const json& existing_conditions, const Condition& desired,
                                       ConditionShape shape, std::string_view now_rfc3339) {
  const json* existing = find_condition(existing_conditions, desired.type);
  const bool status_changed = !existing || existing->value("status", "") != desired.status;
  const bool unchanged =
      !status_changed && existing->value("reason", "") == desired.reason &&
      existing->value("message", "") == desired.message &&
      (shape != ConditionShape::kMetav1 ||
       existing->value("observedGeneration", -1LL) == desired.observed_generation.value_or(-1));
  if (unchanged) return std::nullopt;

  json entry = {{"type", desired.type},
                {"status", desired.status},
                {"reason", desired.reason},
                {"message", desired.message}};
  const std::string now(now_rfc3339);
  entry["lastTransitionTime"] = status_changed ? now : existing->value("lastTransitionTime", now);
  if (shape == ConditionShape::kDeployment) {
    entry["lastUpdateTime"] = now;
  } else if (desired.observed_generation) {
    entry["observedGeneration"] = *desired.observed_generation;
  }
  return entry;
}

}  // namespace meshprobe::controller
