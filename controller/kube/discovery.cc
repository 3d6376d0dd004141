#include "kube/discovery.h"

#include <algorithm>

namespace meshprobe::kube {

ResourceResolver fixed_resource(ResourceType type) {
  return [type]() -> ApiResult<std::optional<ResourceType>> { return std::optional(type); };
}

ApiResult<std::optional<ResourceType>> discover_resource(KubernetesApi& api,
                                                         const std::string& group,
                                                         const std::string& plural,
                                                         const std::vector<std::string>& versions) {
  auto group_info = api.get_path("/apis/" + group);
  if (!group_info) {
    if (group_info.error().is(ApiErrorKind::kNotFound)) return std::optional<ResourceType>();
    return group_info.error();
  }
  std::vector<std::string> served;
  if (auto list = group_info->find("versions"); list != group_info->end() && list->is_array()) {
    for (const auto& entry : *list) {
      if (entry.is_object()) served.push_back(entry.value("version", ""));
    }
  }
  for (const auto& version : versions) {
    if (std::find(served.begin(), served.end(), version) == served.end()) continue;
    auto resources = api.get_path("/apis/" + group + "/" + version);
    if (!resources) {
      if (resources.error().is(ApiErrorKind::kNotFound)) continue;  // removed meanwhile
      return resources.error();
    }
    const auto list = resources->find("resources");
    if (list == resources->end() || !list->is_array()) continue;
    for (const auto& resource : *list) {
      if (!resource.is_object() || resource.value("name", "") != plural) continue;
      return std::optional<ResourceType>(ResourceType{
          group, version, plural, resource.value("kind", ""), resource.value("namespaced", true)});
    }
  }
  return std::optional<ResourceType>();
}

ResourceResolver discovered_resource(KubernetesApi& api, std::string group, std::string plural,
                                     std::vector<std::string> versions) {
  return
      [&api, group = std::move(group), plural = std::move(plural), versions = std::move(versions)] {
        return discover_resource(api, group, plural, versions);
      };
}

}  // namespace meshprobe::kube
