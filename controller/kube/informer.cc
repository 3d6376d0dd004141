#include "kube/informer.h"

#include <algorithm>

namespace meshprobe::kube {

std::optional<std::string> ObjectMeta::label(const std::string& labelKey) const {
  auto found = std::lower_bound(labels.begin(), labels.end(), labelKey,
                                [](const auto& entry, const std::string& wanted) {
                                  return entry.first < wanted;
                                });
  if (found == labels.end() || found->first != labelKey) return std::nullopt;
  return found->second;
}

ObjectMeta readObjectMeta(const nlohmann::json& object) {
  ObjectMeta meta;
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return meta;
  meta.namespaceName = metadata->value("namespace", "");
  meta.name = metadata->value("name", "");
  meta.resourceVersion = metadata->value("resourceVersion", "");
  if (auto labels = metadata->find("labels"); labels != metadata->end() && labels->is_object()) {
    for (const auto& [labelKey, value] : labels->items()) {
      if (value.is_string()) meta.labels.emplace_back(labelKey, value.get<std::string>());
    }
    std::sort(meta.labels.begin(), meta.labels.end());
    meta.labels.shrink_to_fit();
  }
  return meta;
}

void dropManagedFields(nlohmann::json& object) {
  if (auto metadata = object.find("metadata"); metadata != object.end() && metadata->is_object()) {
    metadata->erase("managedFields");
  }
}

CompactObject CompactObject::encode(const nlohmann::json& object) {
  CompactObject compact;
  compact.bytes_ = nlohmann::json::to_msgpack(object);
  compact.bytes_.shrink_to_fit();
  return compact;
}

nlohmann::json CompactObject::decode() const { return nlohmann::json::from_msgpack(bytes_); }

CompactObject projectCompact(const nlohmann::json& object) { return CompactObject::encode(object); }

}  // namespace meshprobe::kube
