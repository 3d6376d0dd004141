// ApiError: every failure of a call to the API server, as a value. Kubernetes Status responses
// map to the kinds apimachinery's errors package names (IsNotFound, IsConflict, ...); network
// failures are kTransport or kTimeout. message() is one line a person can act on.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "probe/result.h"

namespace meshprobe::kube {

enum class ApiErrorKind {
  kTransport,        // no HTTP response: connection refused or reset, TLS verification failed
  kTimeout,          // no response in time (client side), or 504 / reason Timeout
  kBadRequest,       // 400, 405, 406, 415
  kUnauthorized,     // 401: credentials missing or rejected
  kForbidden,        // 403: RBAC denies it
  kNotFound,         // 404
  kAlreadyExists,    // 409 with reason AlreadyExists
  kConflict,         // 409: resourceVersion precondition failed, or a server-side apply conflict
  kGone,             // 410: resourceVersion too old (watch, list continue token): relist
  kInvalid,          // 422: the object failed validation; see causes
  kTooManyRequests,  // 429: see retryAfter
  kServerError,      // 5xx other than 504
  kDecode,           // a response that is not what the API promises (bad JSON, wrong shape)
  kStopped,          // the client was stopped while the call waited
  kFenced,           // a write this client refused to send: it is fenced (RestClient::fence_writes)
};

const char* to_string(ApiErrorKind kind);

struct FieldCause {
  std::string reason;  // e.g. FieldValueInvalid, FieldManagerConflict
  std::string field;   // e.g. spec.replicas
  std::string message;
};

struct ApiError {
  ApiErrorKind kind = ApiErrorKind::kTransport;
  int http_status = 0;  // 0 when there was no response
  std::string reason;   // Status.reason (NotFound, Conflict, Expired, ...)
  std::string detail;   // Status.message, or the transport's own message
  std::vector<FieldCause> causes;
  std::optional<std::chrono::seconds> retry_after;
  std::string request;  // "GET /apis/apps/v1/..." for context

  // "<request>: <kind> (<status>): <detail>; <field>: <cause>..."
  std::string message() const;
  // Worth retrying unchanged later (network, 429, 5xx, timeouts); conflicts are retried by
  // reading again, which is the caller's business.
  bool transient() const;
  bool is(ApiErrorKind other) const { return kind == other; }
};

template <typename T>
using ApiResult = meshprobe::Result<T, ApiError>;

// The value of calls that return nothing but success.
struct Success {};
using ApiStatus = ApiResult<Success>;

// Builds the error for a non-2xx response: decodes a Kubernetes Status body when there is one
// (it is optional: proxies answer with text), honours Retry-After.
ApiError error_from_response(int http_status, const std::string& body,
                             const std::optional<std::string>& retry_after_header,
                             const std::string& request);

// Builds the error carried by a watch ERROR event (its object is a Status).
ApiError error_from_status_object(const std::string& status_json, const std::string& request);

}  // namespace meshprobe::kube
