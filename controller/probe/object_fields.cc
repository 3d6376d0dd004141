#include "probe/object_fields.h"

namespace meshprobe::probe {

using nlohmann::json;

const json* find_member(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

json* find_member(json& object, std::string_view key) {
  return const_cast<json*>(find_member(static_cast<const json&>(object), key));
}

std::optional<std::string> string_member(const json& object, std::string_view key) {
  const json* value = find_member(object, key);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  return value->get<std::string>();
}

std::optional<std::string> annotation(const json& metadata, std::string_view key) {
  const json* annotations = find_member(metadata, "annotations");
  return annotations != nullptr ? string_member(*annotations, key) : std::nullopt;
}

Result<ObjectIdentity> parse_object_identity(const json& object) {
  if (!object.is_object()) return Error{"must be an object"};
  const json* metadata = find_member(object, "metadata");
  if (metadata == nullptr || !metadata->is_object()) return Error{"metadata: must be an object"};
  ObjectIdentity identity;
  auto name = string_member(*metadata, "name");
  if (!name || name->empty()) return Error{"metadata.name: must be a non-empty string"};
  identity.name = *name;
  identity.namespace_name = string_member(*metadata, "namespace").value_or("");
  identity.creation_timestamp = string_member(*metadata, "creationTimestamp").value_or("");
  return identity;
}

}  // namespace meshprobe::probe
