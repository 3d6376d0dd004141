#include "kube/informer.h"

#include <algorithm>

namespace meshprobe::kube {

std::optional<std::string> ObjectMeta::label(const std::string& label_key) const {
  auto found = std::lower_bound(
      labels.begin(), labels.end(), label_key,
      [](const auto& entry, const std::string& wanted) { return entry.first < wanted; });
  if (found == labels.end() || found->first != label_key) return std::nullopt;
  return found->second;
}

ObjectMeta read_object_meta(const nlohmann::json& object) {
  ObjectMeta meta;
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return meta;
  meta.namespace_name = metadata->value("namespace", "");
  meta.name = metadata->value("name", "");
  meta.resource_version = metadata->value("resourceVersion", "");
  if (auto labels = metadata->find("labels"); labels != metadata->end() && labels->is_object()) {
    for (const auto& [label_key, value] : labels->items()) {
      if (value.is_string()) meta.labels.emplace_back(label_key, value.get<std::string>());
    }
    std::sort(meta.labels.begin(), meta.labels.end());
    meta.labels.shrink_to_fit();
  }
  return meta;
}

void drop_managed_fields(nlohmann::json& object) {
  if (auto metadata = object.find("metadata"); metadata != object.end() && metadata->is_object()) {
    metadata->erase("managedFields");
  }
}

}  // namespace meshprobe::kube
