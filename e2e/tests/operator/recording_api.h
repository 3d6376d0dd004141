// RecordingKubernetesApi: a decorator of the KubernetesApi seam that passes every call through
// and records what RBAC sees of it (verb, API group, resource with subresource, namespace,
// name), so a test can compare the calls the real controller makes with config/rbac.
#pragma once

#include <mutex>
#include <set>
#include <string>
#include <tuple>

#include "kube/api.h"

namespace meshprobe::e2e {

struct RecordedCall {
  std::string verb;      // get, list, watch, create, update, patch, delete
  std::string group;     // "" for the core group
  std::string resource;  // deployments, deployments/status
  std::string namespace_name;
  std::string name;  // for list and watch: the metadata.name field selector's value, if any
  auto operator<=>(const RecordedCall&) const = default;
};

class RecordingKubernetesApi final : public kube::KubernetesApi {
 public:
  explicit RecordingKubernetesApi(kube::KubernetesApi& api) : api_(api) {}

  std::set<RecordedCall> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }

  kube::ApiResult<nlohmann::json> get(const kube::ResourceType& type,
                                      const std::string& namespace_name, const std::string& name,
                                      const std::string& subresource) override {
    record("get", type, subresource, namespace_name, name);
    return api_.get(type, namespace_name, name, subresource);
  }
  kube::ApiResult<kube::ObjectList> list(const kube::ResourceType& type,
                                         const std::string& namespace_name,
                                         const kube::ListOptions& options) override {
    record("list", type, "", namespace_name, selected_name(options.field_selector));
    return api_.list(type, namespace_name, options);
  }
  kube::ApiResult<nlohmann::json> create(const kube::ResourceType& type,
                                         const std::string& namespace_name,
                                         const nlohmann::json& object,
                                         const kube::WriteOptions& options) override {
    record("create", type, options.subresource, namespace_name, "");
    return api_.create(type, namespace_name, object, options);
  }
  kube::ApiResult<nlohmann::json> update(const kube::ResourceType& type,
                                         const std::string& namespace_name,
                                         const nlohmann::json& object,
                                         const kube::WriteOptions& options) override {
    record("update", type, options.subresource, namespace_name,
           object["metadata"].value("name", ""));
    return api_.update(type, namespace_name, object, options);
  }
  kube::ApiResult<nlohmann::json> patch(const kube::ResourceType& type,
                                        const std::string& namespace_name, const std::string& name,
                                        kube::PatchType patch_type, const std::string& body,
                                        const kube::PatchOptions& options) override {
    record("patch", type, options.subresource, namespace_name, name);
    return api_.patch(type, namespace_name, name, patch_type, body, options);
  }
  kube::ApiStatus remove(const kube::ResourceType& type, const std::string& namespace_name,
                         const std::string& name, const kube::DeleteOptions& options) override {
    record("delete", type, "", namespace_name, name);
    return api_.remove(type, namespace_name, name, options);
  }
  kube::ApiResult<kube::WatchStreamPtr> watch(const kube::ResourceType& type,
                                              const std::string& namespace_name,
                                              const kube::WatchOptions& options) override {
    record("watch", type, "", namespace_name, selected_name(options.field_selector));
    return api_.watch(type, namespace_name, options);
  }
  // Discovery: non-resource URLs every authenticated user may read (system:discovery).
  kube::ApiResult<nlohmann::json> get_path(const std::string& path) override {
    return api_.get_path(path);
  }

 private:
  static std::string selected_name(const std::string& field_selector) {
    const std::string prefix = "metadata.name=";
    return field_selector.starts_with(prefix) ? field_selector.substr(prefix.size()) : "";
  }
  void record(const std::string& verb, const kube::ResourceType& type,
              const std::string& subresource, const std::string& namespace_name,
              const std::string& name) {
    std::lock_guard lock(mutex_);
    calls_.insert({verb, type.group, type.plural + (subresource.empty() ? "" : "/" + subresource),
                   namespace_name, name});
  }

  kube::KubernetesApi& api_;
  mutable std::mutex mutex_;
  std::set<RecordedCall> calls_;
};

}  // namespace meshprobe::e2e
