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
    if (!value.empty())
      text_ += (text_.empty() ? "?" : "&") + name + "=" + encode_query_value(value);
    return *this;
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

std::string describe(const HttpRequest& request) { return request.method + " " + request.target; }

ApiError stopped_error(const std::string& request) {
  ApiError error;
  error.kind = ApiErrorKind::kStopped;
  error.request = request;
  error.detail = "the client is stopping";
  return error;
}

// Keeps apiVersion, kind and metadata without managedFields; what it drops is never built.
json parse_metadata(const std::string& body) {
  std::string top_level_key;
  const json::parser_callback_t keep = [&top_level_key](int depth, json::parse_event_t event,
                                                        json& parsed) {
    if (event != json::parse_event_t::key) return true;
    if (depth == 1) {
      top_level_key = parsed.get<std::string>();
      return top_level_key == "apiVersion" || top_level_key == "kind" ||
             top_level_key == "metadata";
    }
    return !(depth == 2 && top_level_key == "metadata" && parsed == "managedFields");
  };
  return json::parse(body, keep, /*allow_exceptions=*/false);
}

ApiResult<json> parse_object(const HttpResponse& response, const std::string& request,
                             ResponseFields fields = ResponseFields::kObject) {
  json object = fields == ResponseFields::kMetadata ? parse_metadata(response.body)
                                                    : json::parse(response.body, nullptr, false);
  if (object.is_discarded() || !object.is_object()) {
    ApiError error;
    error.kind = ApiErrorKind::kDecode;
    error.http_status = response.status;
    error.request = request;
    error.detail = "the response is not a JSON object: " + response.body.substr(0, 200);
    return error;
  }
  return object;
}

const char* content_type_of(PatchType type) {
  switch (type) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

}  // namespace

RestClient::RestClient(Transport& transport, RestClientOptions options, Clock& clock,
                       MetricsRegistry& metrics)
    : transport_(transport),
      options_(std::move(options)),
      clock_(clock),
      limiter_(options_.queries_per_second, options_.burst, clock),
      requests_(metrics.counter("rest_client_requests_total",
                                "Number of HTTP requests, partitioned by status code, method, and "
                                "host (every attempt; \"<error>\" when no response arrived).",
                                {"code", "method", "host"})),
      retries_(metrics.counter("rest_client_request_retries_total",
                               "Number of request retries, partitioned by status code, verb, and "
                               "host.",
                               {"code", "verb", "host"})),
      latency_(metrics.histogram("rest_client_request_duration_seconds",
                                 "Request latency in seconds, throttling and retries included "
                                 "(watches: until the response headers). Broken down by verb and "
                                 "host.",
                                 {"verb", "host"})),
      rate_limiter_latency_(metrics.histogram("rest_client_rate_limiter_duration_seconds",
                                              "Client side rate limiter latency in seconds. Broken "
                                              "down by verb, and host.",
                                              {"verb", "host"})),
      fenced_writes_(metrics.counter("meshprobe_fenced_writes_total",
                                     "API writes refused without being sent: this replica lost "
                                     "its Lease or is stopping.",
                                     {"method"})) {}

void RestClient::fence_writes(const std::string& reason) {
  std::lock_guard lock(fence_mutex_);
  if (!fence_reason_) fence_reason_ = reason;
}

bool RestClient::writes_fenced() const {
  std::lock_guard lock(fence_mutex_);
  return fence_reason_.has_value();
}

std::optional<ApiError> RestClient::refused_by_fence(const HttpRequest& request) {
  if (request.method == "GET") return std::nullopt;
  std::string reason;
  {
    std::lock_guard lock(fence_mutex_);
    if (!fence_reason_) return std::nullopt;
    reason = *fence_reason_;
  }
  fenced_writes_.labels({request.method}).increment();
  ApiError error;
  error.kind = ApiErrorKind::kFenced;
  error.request = describe(request);
  error.detail = "write refused, not sent: " + reason;
  return error;
}

bool RestClient::throttle(const std::string& method) {
  const MonotonicTime started = clock_.now();
  const bool waited = limiter_.wait(stop_.get_token());
  rate_limiter_latency_.labels({method, options_.host})
      .observe(std::chrono::duration<double>(clock_.now() - started).count());
  return waited;
}

void RestClient::count_attempt(const std::string& method, const std::string& code, bool retry) {
  requests_.labels({code, method, options_.host}).increment();
  if (retry) retries_.labels({code, method, options_.host}).increment();
}

void RestClient::observe_duration(const std::string& method, MonotonicTime started) {
  latency_.labels({method, options_.host})
      .observe(std::chrono::duration<double>(clock_.now() - started).count());
}

ApiResult<HttpResponse> RestClient::execute(const HttpRequest& request) {
  const std::string description = describe(request);
  if (auto refused = refused_by_fence(request)) return *refused;
  const MonotonicTime started = clock_.now();
  for (int attempt = 0;; ++attempt) {
    if (!throttle(request.method)) {
      observe_duration(request.method, started);
      return stopped_error(description);
    }
    // The fence may have closed while this write waited for the limit or a Retry-After.
    if (auto refused = refused_by_fence(request)) return *refused;
    auto response = transport_.send(request);
    count_attempt(request.method, response ? std::to_string(response->status) : "<error>",
                  attempt > 0);
    if (!response) {
      observe_duration(request.method, started);
      ApiError error = response.error();
      error.request = description;
      return error;
    }
    if (response->status >= 200 && response->status < 300) {
      observe_duration(request.method, started);
      return response;
    }
    ApiError error = error_from_response(response->status, response->body,
                                         response->header("retry-after"), description);
    // The server did not process a 429 at all: any verb may be sent again.
    if (error.kind != ApiErrorKind::kTooManyRequests || attempt >= options_.maximum_retries) {
      observe_duration(request.method, started);
      return error;
    }
    const Duration wait = std::min<Duration>(error.retry_after.value_or(std::chrono::seconds(1)),
                                             options_.longest_retry_after);
    if (!sleep_for(clock_, wait, stop_.get_token())) {
      observe_duration(request.method, started);
      return stopped_error(description);
    }
  }
}

ApiResult<json> RestClient::execute_for_object(const HttpRequest& request, ResponseFields fields) {
  auto response = execute(request);
  if (!response) return response.error();
  return parse_object(*response, describe(request), fields);
}

ApiResult<json> RestClient::get(const ResourceType& type, const std::string& namespace_name,
                                const std::string& name, const std::string& subresource) {
  return execute_for_object({"GET", type.path(namespace_name, name, subresource), "", ""});
}

ApiResult<ObjectList> RestClient::list(const ResourceType& type, const std::string& namespace_name,
                                       const ListOptions& options) {
  Query query;
  query.add("labelSelector", options.label_selector)
      .add("fieldSelector", options.field_selector)
      .add("limit", options.limit > 0 ? std::to_string(options.limit) : "")
      .add("continue", options.continue_token)
      .add("resourceVersion", options.resource_version);
  const HttpRequest request{"GET", type.path(namespace_name) + query.text(), "", ""};
  auto body = execute_for_object(request);
  if (!body) return body.error();
  ObjectList list;
  const json& metadata = (*body)["metadata"];
  if (metadata.is_object()) {
    list.resource_version = metadata.value("resourceVersion", "");
    list.continue_token = metadata.value("continue", "");
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

ApiResult<json> RestClient::create(const ResourceType& type, const std::string& namespace_name,
                                   const json& object, const WriteOptions& options) {
  Query query;
  query.add("fieldManager", options.field_manager).add("dryRun", options.dry_run ? "All" : "");
  return execute_for_object(
      {"POST", type.path(namespace_name) + query.text(), "application/json", object.dump()},
      options.response);
}

ApiResult<json> RestClient::update(const ResourceType& type, const std::string& namespace_name,
                                   const json& object, const WriteOptions& options) {
  const std::string name = object.contains("metadata") && object["metadata"].is_object()
                               ? object["metadata"].value("name", "")
                               : "";
  if (name.empty()) {
    ApiError error;
    error.kind = ApiErrorKind::kBadRequest;
    error.request = "PUT " + type.path(namespace_name);
    error.detail = "the object to update has no metadata.name";
    return error;
  }
  Query query;
  query.add("fieldManager", options.field_manager).add("dryRun", options.dry_run ? "All" : "");
  return execute_for_object(
      {"PUT", type.path(namespace_name, name, options.subresource) + query.text(),
       "application/json", object.dump()},
      options.response);
}

ApiResult<json> RestClient::patch(const ResourceType& type, const std::string& namespace_name,
                                  const std::string& name, PatchType patch_type,
                                  const std::string& body, const PatchOptions& options) {
  Query query;
  query.add("fieldManager", options.field_manager)
      .add("force", options.force ? "true" : "")
      .add("dryRun", options.dry_run ? "All" : "");
  const HttpRequest request{"PATCH",
                            type.path(namespace_name, name, options.subresource) + query.text(),
                            content_type_of(patch_type), body};
  if (patch_type == PatchType::kApply && options.field_manager.empty()) {
    ApiError error;
    error.kind = ApiErrorKind::kBadRequest;
    error.request = describe(request);
    error.detail = "server-side apply needs a field manager";
    return error;
  }
  return execute_for_object(request, options.response);
}

ApiStatus RestClient::remove(const ResourceType& type, const std::string& namespace_name,
                             const std::string& name, const DeleteOptions& options) {
  json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (!options.precondition_resource_version.empty()) {
    body["preconditions"]["resourceVersion"] = options.precondition_resource_version;
  }
  if (!options.precondition_uid.empty()) body["preconditions"]["uid"] = options.precondition_uid;
  if (!options.propagation_policy.empty()) body["propagationPolicy"] = options.propagation_policy;
  auto response =
      execute({"DELETE", type.path(namespace_name, name), "application/json", body.dump()});
  if (!response) return response.error();
  return Success{};
}

ApiResult<WatchStreamPtr> RestClient::watch(const ResourceType& type,
                                            const std::string& namespace_name,
                                            const WatchOptions& options) {
  Query query;
  query.add("watch", "1")
      .add("resourceVersion", options.resource_version)
      .add("allowWatchBookmarks", options.allow_bookmarks ? "true" : "")
      .add("timeoutSeconds",
           options.timeout_seconds > 0 ? std::to_string(options.timeout_seconds) : "")
      .add("labelSelector", options.label_selector)
      .add("fieldSelector", options.field_selector);
  const HttpRequest request{"GET", type.path(namespace_name) + query.text(), "", ""};
  const std::string description = describe(request);
  const MonotonicTime started = clock_.now();
  if (!throttle(request.method)) return stopped_error(description);
  auto response = transport_.open_stream(request);
  count_attempt(request.method, response ? std::to_string(response->status) : "<error>", false);
  observe_duration(request.method, started);
  if (!response) {
    ApiError error = response.error();
    error.request = description;
    return error;
  }
  if (response->status < 200 || response->status >= 300 || !response->body) {
    auto retry_after = response->headers.find("retry-after");
    return error_from_response(response->status, response->error_body,
                               retry_after == response->headers.end()
                                   ? std::nullopt
                                   : std::optional<std::string>(retry_after->second),
                               description);
  }
  return WatchStreamPtr(
      std::make_unique<DecodingWatchStream>(std::move(response.value().body), description));
}

ApiResult<json> RestClient::get_path(const std::string& path) {
  return execute_for_object({"GET", path, "", ""});
}

ApiResult<json> apply(KubernetesApi& api, const ResourceType& type,
                      const std::string& namespace_name, const json& object,
                      const std::string& field_manager, bool force, const std::string& subresource,
                      ResponseFields response) {
  const std::string name = object.contains("metadata") && object["metadata"].is_object()
                               ? object["metadata"].value("name", "")
                               : "";
  PatchOptions options;
  options.field_manager = field_manager;
  options.force = force;
  options.subresource = subresource;
  options.response = response;
  // JSON is YAML: the apply content type takes it as it is.
  return api.patch(type, namespace_name, name, PatchType::kApply, object.dump(), options);
}

ApiResult<std::string> list_all_pages(KubernetesApi& api, const ResourceType& type,
                                      const std::string& namespace_name, ListOptions options,
                                      std::int64_t page_size,
                                      const std::function<void(json item)>& visit,
                                      const std::function<void()>& restarted) {
  options.limit = page_size;
  options.continue_token.clear();
  while (true) {
    auto page = api.list(type, namespace_name, options);
    if (!page) {
      // The continue token expired (etcd compacted past it): start over without pages.
      if (page.error().is(ApiErrorKind::kGone) && !options.continue_token.empty()) {
        options.continue_token.clear();
        options.limit = 0;
        if (restarted) restarted();
        continue;
      }
      return page.error();
    }
    for (auto& item : page->items) visit(std::move(item));
    if (page->continue_token.empty()) return page->resource_version;
    options.continue_token = page->continue_token;
  }
}

}  // namespace meshprobe::kube
