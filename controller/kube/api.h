// KubernetesApi: the calls a controller makes to the API server, one method per REST verb.
// RestClient (rest_client.h) implements it over a Transport; the operator's unit tests mock it
// (unit/kube/mocks/mock_kubernetes_api.h). Objects are JSON as the API serves them; caches
// keep projections of them instead (informer.h).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kube/api_error.h"
#include "kube/resource.h"

namespace meshprobe::kube {

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  std::int64_t limit = 0;        // page size; 0 = everything at once
  std::string continue_token;    // from the previous page
  std::string resource_version;  // "" = most recent (a quorum read)
};

struct ObjectList {
  std::string resource_version;
  std::string continue_token;  // empty on the last page
  std::vector<nlohmann::json> items;
};

// What the answer to a write is read into: the whole object, or only apiVersion, kind and
// metadata without managedFields, for callers that need no more than its resourceVersion. (The
// answer to a Deployment write is about 20 kB; parsed whole it is a few hundred kB of short-lived
// allocations per write, which fragment the heap the cache lives in.)
enum class ResponseFields { kObject, kMetadata };

struct WriteOptions {
  std::string field_manager;
  std::string subresource;  // "status" for the status subresource
  bool dry_run = false;
  ResponseFields response = ResponseFields::kObject;
};

enum class PatchType {
  kMerge,           // application/merge-patch+json (RFC 7386)
  kJson,            // application/json-patch+json (RFC 6902)
  kStrategicMerge,  // built-in kinds only
  kApply,           // server-side apply: needs a field manager
};

struct PatchOptions {
  std::string field_manager;
  bool force = false;  // server-side apply: take over conflicting fields
  std::string subresource;
  bool dry_run = false;
  ResponseFields response = ResponseFields::kObject;
};

struct DeleteOptions {
  std::string precondition_resource_version;
  std::string precondition_uid;
  std::string propagation_policy;  // Foreground, Background, Orphan; "" = the kind's default
};

struct WatchOptions {
  std::string resource_version;  // watch changes after this version
  std::string label_selector;
  std::string field_selector;
  bool allow_bookmarks = true;
  int timeout_seconds = 0;  // the server ends the watch after this; 0 = its default
};

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark };

struct WatchEvent {
  WatchEventType type;
  nlohmann::json object;  // for a bookmark, only metadata.resourceVersion is meaningful
};

// One watch connection. next() blocks for the next event; nullopt is the server's clean end
// of the watch (timeoutSeconds): watch again from the last resourceVersion. An ERROR event
// arrives as an ApiError (kGone: relist).
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  virtual ApiResult<std::optional<WatchEvent>> next() = 0;
  // From any thread: ends a blocked next() (kStopped).
  virtual void cancel() = 0;
};
using WatchStreamPtr = std::unique_ptr<WatchStream>;

class KubernetesApi {
 public:
  virtual ~KubernetesApi() = default;

  virtual ApiResult<nlohmann::json> get(const ResourceType& type, const std::string& namespace_name,
                                        const std::string& name,
                                        const std::string& subresource = "") = 0;
  // One page; see list_all_pages() for the loop.
  virtual ApiResult<ObjectList> list(const ResourceType& type, const std::string& namespace_name,
                                     const ListOptions& options) = 0;
  virtual ApiResult<nlohmann::json> create(const ResourceType& type,
                                           const std::string& namespace_name,
                                           const nlohmann::json& object,
                                           const WriteOptions& options = {}) = 0;
  // PUT of the whole object (metadata.resourceVersion makes it conditional).
  virtual ApiResult<nlohmann::json> update(const ResourceType& type,
                                           const std::string& namespace_name,
                                           const nlohmann::json& object,
                                           const WriteOptions& options = {}) = 0;
  virtual ApiResult<nlohmann::json> patch(const ResourceType& type,
                                          const std::string& namespace_name,
                                          const std::string& name, PatchType patch_type,
                                          const std::string& body,
                                          const PatchOptions& options = {}) = 0;
  virtual ApiStatus remove(const ResourceType& type, const std::string& namespace_name,
                           const std::string& name, const DeleteOptions& options = {}) = 0;
  virtual ApiResult<WatchStreamPtr> watch(const ResourceType& type,
                                          const std::string& namespace_name,
                                          const WatchOptions& options) = 0;
  // A GET of any path (discovery: /apis/security.istio.io).
  virtual ApiResult<nlohmann::json> get_path(const std::string& path) = 0;
};
using KubernetesApiPtr = std::unique_ptr<KubernetesApi>;

// Server-side apply of `object` (its apiVersion, kind and metadata.name must be set) as
// `fieldManager`; with `force`, conflicting fields owned by others are taken over.
ApiResult<nlohmann::json> apply(KubernetesApi& api, const ResourceType& type,
                                const std::string& namespace_name, const nlohmann::json& object,
                                const std::string& field_manager, bool force = false,
                                const std::string& subresource = "",
                                ResponseFields response = ResponseFields::kObject);

// Lists every page of `pageSize`, handing each item to `visit` (by value, so the caller may
// keep or project it while the page is dropped). Returns the list's resourceVersion. When a
// continue token expires (410) mid-way, starts over with a full, unpaginated list, as
// client-go's pager does; `visit` then sees items again, so callers collect into a fresh set.
ApiResult<std::string> list_all_pages(KubernetesApi& api, const ResourceType& type,
                                      const std::string& namespace_name, ListOptions options,
                                      std::int64_t page_size,
                                      const std::function<void(nlohmann::json item)>& visit,
                                      const std::function<void()>& restarted = {});

}  // namespace meshprobe::kube
