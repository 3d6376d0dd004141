// Small, total accessors for Kubernetes objects held as JSON: they never throw and treat a
// missing or mistyped field as absent.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "probe/result.h"

namespace meshprobe::probe {

// The member `key` of `object`, or nullptr when `object` is not an object or has no such
// member (a JSON null member counts as absent, as in Kubernetes).
const nlohmann::json* find_member(const nlohmann::json& object, std::string_view key);
nlohmann::json* find_member(nlohmann::json& object, std::string_view key);

// The string member `key`, if it is one.
std::optional<std::string> string_member(const nlohmann::json& object, std::string_view key);

// metadata.annotations[key] of an object or pod template, if it is a string.
std::optional<std::string> annotation(const nlohmann::json& metadata, std::string_view key);

struct ObjectIdentity {
  std::string namespace_name;
  std::string name;
  std::string creation_timestamp;
};

// metadata.namespace, metadata.name (required) and metadata.creationTimestamp.
Result<ObjectIdentity> parse_object_identity(const nlohmann::json& object);

}  // namespace meshprobe::probe
