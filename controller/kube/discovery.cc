#include "kube/discovery.h"

#include <algorithm>

namespace meshprobe::kube {

using nlohmann::json;

ResourceResolver fixed_resource(ResourceType type) {
  return [type]() -> ApiResult<std::optional<ResourceType>> { return std::optional(type); };
}

ApiResult<json> Discovery::get_path(const std::string& path) {
  std::promise<ApiResult<json>> promise;
  {
    std::unique_lock lock(mutex_);
    if (auto found = in_flight_.find(path); found != in_flight_.end()) {
      auto answer = found->second.answer;
      ++found->second.waiting;
      lock.unlock();
      return answer.get();
    }
    in_flight_[path].answer = promise.get_future().share();
  }
  auto answer = api_.get_path(path);
  {
    // Out of the map before the answer is published: a caller arriving from now on asks the
    // server afresh rather than reading an answer that is already old.
    std::lock_guard lock(mutex_);
    in_flight_.erase(path);
  }
  promise.set_value(answer);
  return answer;
}

int Discovery::waiting_for(const std::string& path) const {
  std::lock_guard lock(mutex_);
  auto found = in_flight_.find(path);
  return found == in_flight_.end() ? 0 : found->second.waiting;
}

ApiResult<std::optional<ResourceType>> Discovery::resource(
    const std::string& group, const std::string& plural, const std::vector<std::string>& versions) {
  auto group_info = get_path("/apis/" + group);
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
    auto resources = get_path("/apis/" + group + "/" + version);
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

ResourceResolver Discovery::resolver(std::string group, std::string plural,
                                     std::vector<std::string> versions) {
  return [this, group = std::move(group), plural = std::move(plural),
          versions = std::move(versions)] { return resource(group, plural, versions); };
}

ApiResult<std::optional<ResourceType>> discover_resource(KubernetesApi& api,
                                                         const std::string& group,
                                                         const std::string& plural,
                                                         const std::vector<std::string>& versions) {
  return Discovery(api).resource(group, plural, versions);
}

}  // namespace meshprobe::kube
