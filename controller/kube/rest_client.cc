#include "kube/rest_client.h"

#include <algorithm>

#include "kube/watch_decoder.h"

namespace meshprobe::kube {
namespace {

using nlohmann::json;

// Builds "?a=b&c=d" from the parameters that are set.
class Query {
 public:
  Query& add(const std::string& name, const std::string& value) {
    if (!value.empty()) text_ += (text_.empty() ? "?" : "&") + name + "=" + encodeQueryValue(value);
    return *this;
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

std::string describe(const HttpRequest& request) { return request.method + " " + request.target; }

ApiError stoppedError(const std::string& request) {
  ApiError error;
  error.kind = ApiErrorKind::kStopped;
  error.request = request;
  error.detail = "the client is stopping";
  return error;
}

ApiResult<json> parseObject(const HttpResponse& response, const std::string& request) {
  json object = json::parse(response.body, nullptr, false);
  if (object.is_discarded() || !object.is_object()) {
    ApiError error;
    error.kind = ApiErrorKind::kDecode;
    error.httpStatus = response.status;
    error.request = request;
    error.detail = "the response is not a JSON object: " + response.body.substr(0, 200);
    return error;
  }
  return object;
}

const char* contentTypeOf(PatchType type) {
  switch (type) {
    case PatchType::kMerge: return "application/merge-patch+json";
    case PatchType::kJson: return "application/json-patch+json";
    case PatchType::kStrategicMerge: return "application/strategic-merge-patch+json";
    case PatchType::kApply: return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

}  // namespace

RestClient::RestClient(Transport& transport, RestClientOptions options, Clock& clock,
                       MetricsRegistry& metrics)
    : transport_(transport),
      options_(options),
      clock_(clock),
      limiter_(options.queriesPerSecond, options.burst, clock),
      requests_(metrics.counter("rest_client_requests_total",
                                "API server requests by verb and HTTP status code (\"<error>\" "
                                "when no response arrived).",
                                {"verb", "code"})),
      latency_(metrics.histogram("rest_client_request_duration_seconds",
                                 "API server request latency by verb, until the response "
                                 "headers for watches.",
                                 {"verb"})) {}

void RestClient::record(const std::string& verb, const std::string& code, MonotonicTime started) {
  requests_.labels({verb, code}).increment();
  latency_.labels({verb}).observe(std::chrono::duration<double>(clock_.now() - started).count());
}

ApiResult<HttpResponse> RestClient::execute(const std::string& verb, const HttpRequest& request) {
  const std::string description = describe(request);
  for (int attempt = 0;; ++attempt) {
    if (!limiter_.wait(stop_.get_token())) return stoppedError(description);
    const MonotonicTime started = clock_.now();
    auto response = transport_.send(request);
    if (!response) {
      record(verb, "<error>", started);
      ApiError error = response.error();
      error.request = description;
      return error;
    }
    record(verb, std::to_string(response->status), started);
    if (response->status >= 200 && response->status < 300) return response;
    ApiError error = errorFromResponse(response->status, response->body,
                                       response->header("retry-after"), description);
    // The server did not process a 429 at all: any verb may be sent again.
    if (error.kind != ApiErrorKind::kTooManyRequests || attempt >= options_.maximumRetries) {
      return error;
    }
    const Duration wait = std::min<Duration>(error.retryAfter.value_or(std::chrono::seconds(1)),
                                             options_.longestRetryAfter);
    if (!sleepFor(clock_, wait, stop_.get_token())) return stoppedError(description);
  }
}

ApiResult<json> RestClient::executeForObject(const std::string& verb, const HttpRequest& request) {
  auto response = execute(verb, request);
  if (!response) return response.error();
  return parseObject(*response, describe(request));
}

ApiResult<json> RestClient::get(const ResourceType& type, const std::string& namespaceName,
                                const std::string& name, const std::string& subresource) {
  return executeForObject("get", {"GET", type.path(namespaceName, name, subresource), "", ""});
}

ApiResult<ObjectList> RestClient::list(const ResourceType& type, const std::string& namespaceName,
                                       const ListOptions& options) {
  Query query;
  query.add("labelSelector", options.labelSelector)
      .add("fieldSelector", options.fieldSelector)
      .add("limit", options.limit > 0 ? std::to_string(options.limit) : "")
      .add("continue", options.continueToken)
      .add("resourceVersion", options.resourceVersion);
  const HttpRequest request{"GET", type.path(namespaceName) + query.text(), "", ""};
  auto body = executeForObject("list", request);
  if (!body) return body.error();
  ObjectList list;
  const json& metadata = (*body)["metadata"];
  if (metadata.is_object()) {
    list.resourceVersion = metadata.value("resourceVersion", "");
    list.continueToken = metadata.value("continue", "");
  }
  json& items = body.value()["items"];
  if (!items.is_array() && !items.is_null()) {
    ApiError error;
    error.kind = ApiErrorKind::kDecode;
    error.request = describe(request);
    error.detail = "items is not a list";
    return error;
  }
  if (items.is_array()) {
    list.items.reserve(items.size());
    for (auto& item : items) list.items.push_back(std::move(item));
  }
  return list;
}

ApiResult<json> RestClient::create(const ResourceType& type, const std::string& namespaceName,
                                   const json& object, const WriteOptions& options) {
  Query query;
  query.add("fieldManager", options.fieldManager).add("dryRun", options.dryRun ? "All" : "");
  return executeForObject("create", {"POST", type.path(namespaceName) + query.text(),
                                     "application/json", object.dump()});
}

ApiResult<json> RestClient::update(const ResourceType& type, const std::string& namespaceName,
                                   const json& object, const WriteOptions& options) {
  const std::string name = object.contains("metadata") && object["metadata"].is_object()
                               ? object["metadata"].value("name", "")
                               : "";
  if (name.empty()) {
    ApiError error;
    error.kind = ApiErrorKind::kBadRequest;
    error.request = "PUT " + type.path(namespaceName);
    error.detail = "the object to update has no metadata.name";
    return error;
  }
  Query query;
  query.add("fieldManager", options.fieldManager).add("dryRun", options.dryRun ? "All" : "");
  return executeForObject(
      "update", {"PUT", type.path(namespaceName, name, options.subresource) + query.text(),
                 "application/json", object.dump()});
}

ApiResult<json> RestClient::patch(const ResourceType& type, const std::string& namespaceName,
                                  const std::string& name, PatchType patchType,
                                  const std::string& body, const PatchOptions& options) {
  Query query;
  query.add("fieldManager", options.fieldManager)
      .add("force", options.force ? "true" : "")
      .add("dryRun", options.dryRun ? "All" : "");
  const HttpRequest request{"PATCH",
                            type.path(namespaceName, name, options.subresource) + query.text(),
                            contentTypeOf(patchType), body};
  if (patchType == PatchType::kApply && options.fieldManager.empty()) {
    ApiError error;
    error.kind = ApiErrorKind::kBadRequest;
    error.request = describe(request);
    error.detail = "server-side apply needs a field manager";
    return error;
  }
  return executeForObject(patchType == PatchType::kApply ? "apply" : "patch", request);
}

ApiStatus RestClient::remove(const ResourceType& type, const std::string& namespaceName,
                             const std::string& name, const DeleteOptions& options) {
  json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (!options.preconditionResourceVersion.empty()) {
    body["preconditions"]["resourceVersion"] = options.preconditionResourceVersion;
  }
  if (!options.preconditionUid.empty()) body["preconditions"]["uid"] = options.preconditionUid;
  if (!options.propagationPolicy.empty()) body["propagationPolicy"] = options.propagationPolicy;
  auto response = execute("delete", {"DELETE", type.path(namespaceName, name),
                                     "application/json", body.dump()});
  if (!response) return response.error();
  return Success{};
}

ApiResult<WatchStreamPtr> RestClient::watch(const ResourceType& type,
                                            const std::string& namespaceName,
                                            const WatchOptions& options) {
  Query query;
  query.add("watch", "1")
      .add("resourceVersion", options.resourceVersion)
      .add("allowWatchBookmarks", options.allowBookmarks ? "true" : "")
      .add("timeoutSeconds", options.timeoutSeconds > 0 ? std::to_string(options.timeoutSeconds) : "")
      .add("labelSelector", options.labelSelector)
      .add("fieldSelector", options.fieldSelector);
  const HttpRequest request{"GET", type.path(namespaceName) + query.text(), "", ""};
  const std::string description = describe(request);
  if (!limiter_.wait(stop_.get_token())) return stoppedError(description);
  const MonotonicTime started = clock_.now();
  auto response = transport_.openStream(request);
  if (!response) {
    record("watch", "<error>", started);
    ApiError error = response.error();
    error.request = description;
    return error;
  }
  record("watch", std::to_string(response->status), started);
  if (response->status < 200 || response->status >= 300 || !response->body) {
    auto retryAfter = response->headers.find("retry-after");
    return errorFromResponse(response->status, response->errorBody,
                             retryAfter == response->headers.end()
                                 ? std::nullopt
                                 : std::optional<std::string>(retryAfter->second),
                             description);
  }
  return WatchStreamPtr(
      std::make_unique<DecodingWatchStream>(std::move(response.value().body), description));
}

ApiResult<json> RestClient::getPath(const std::string& path) {
  return executeForObject("get", {"GET", path, "", ""});
}

ApiResult<json> apply(KubernetesApi& api, const ResourceType& type,
                      const std::string& namespaceName, const json& object,
                      const std::string& fieldManager, bool force,
                      const std::string& subresource) {
  const std::string name = object.contains("metadata") && object["metadata"].is_object()
                               ? object["metadata"].value("name", "")
                               : "";
  PatchOptions options;
  options.fieldManager = fieldManager;
  options.force = force;
  options.subresource = subresource;
  // JSON is YAML: the apply content type takes it as it is.
  return api.patch(type, namespaceName, name, PatchType::kApply, object.dump(), options);
}

ApiResult<std::string> listAllPages(KubernetesApi& api, const ResourceType& type,
                                    const std::string& namespaceName, ListOptions options,
                                    std::int64_t pageSize,
                                    const std::function<void(json item)>& visit,
                                    const std::function<void()>& restarted) {
  options.limit = pageSize;
  options.continueToken.clear();
  while (true) {
    auto page = api.list(type, namespaceName, options);
    if (!page) {
      // The continue token expired (etcd compacted past it): start over without pages.
      if (page.error().is(ApiErrorKind::kGone) && !options.continueToken.empty()) {
        options.continueToken.clear();
        options.limit = 0;
        if (restarted) restarted();
        continue;
      }
      return page.error();
    }
    for (auto& item : page->items) visit(std::move(item));
    if (page->continueToken.empty()) return page->resourceVersion;
    options.continueToken = page->continueToken;
  }
}

}  // namespace meshprobe::kube
