#include "kube/api_error.h"

#include <charconv>
#include <nlohmann/json.hpp>

namespace meshprobe::kube {
namespace {

ApiErrorKind kind_for(int status, const std::string& reason) {
  switch (status) {
    case 400:
    case 405:
    case 406:
    case 415:
      return ApiErrorKind::kBadRequest;
    case 401:
      return ApiErrorKind::kUnauthorized;
    case 403:
      return ApiErrorKind::kForbidden;
    case 404:
      return ApiErrorKind::kNotFound;
    case 409:
      return reason == "AlreadyExists" ? ApiErrorKind::kAlreadyExists : ApiErrorKind::kConflict;
    case 410:
      return ApiErrorKind::kGone;
    case 422:
      return ApiErrorKind::kInvalid;
    case 429:
      return ApiErrorKind::kTooManyRequests;
    case 504:
      return ApiErrorKind::kTimeout;
    default:
      break;
  }
  if (reason == "Timeout") return ApiErrorKind::kTimeout;
  if (status >= 500) return ApiErrorKind::kServerError;
  return ApiErrorKind::kBadRequest;
}

std::optional<std::chrono::seconds> parse_seconds(const std::string& text) {
  long long value = 0;
  auto [end, problem] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (problem != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return std::chrono::seconds(value);
}

// The string member `key` of `object`; empty when it is missing or not a string (json::value
// would throw on a member of another type, and a body is whatever the server or a proxy sent).
std::string string_member(const nlohmann::json& object, const char* key) {
  const auto member = object.find(key);
  return member != object.end() && member->is_string() ? member->get<std::string>() : "";
}

// Fills reason, detail, causes and retryAfter from a Status object; false when it is none.
bool read_status(const nlohmann::json& status, ApiError& error) {
  if (!status.is_object() || string_member(status, "kind") != "Status") return false;
  error.reason = string_member(status, "reason");
  error.detail = string_member(status, "message");
  if (error.http_status == 0 && status.contains("code") && status["code"].is_number_integer()) {
    error.http_status = status["code"].get<int>();
  }
  const auto details = status.find("details");
  if (details != status.end() && details->is_object()) {
    if (auto causes = details->find("causes"); causes != details->end() && causes->is_array()) {
      for (const auto& cause : *causes) {
        if (!cause.is_object()) continue;
        error.causes.push_back({string_member(cause, "reason"), string_member(cause, "field"),
                                string_member(cause, "message")});
      }
    }
    if (auto seconds = details->find("retryAfterSeconds");
        seconds != details->end() && seconds->is_number_integer() && seconds->get<int>() > 0) {
      error.retry_after = std::chrono::seconds(seconds->get<int>());
    }
  }
  return true;
}

}  // namespace

const char* to_string(ApiErrorKind kind) {
  switch (kind) {
    case ApiErrorKind::kTransport:
      return "transport error";
    case ApiErrorKind::kTimeout:
      return "timeout";
    case ApiErrorKind::kBadRequest:
      return "bad request";
    case ApiErrorKind::kUnauthorized:
      return "unauthorized";
    case ApiErrorKind::kForbidden:
      return "forbidden";
    case ApiErrorKind::kNotFound:
      return "not found";
    case ApiErrorKind::kAlreadyExists:
      return "already exists";
    case ApiErrorKind::kConflict:
      return "conflict";
    case ApiErrorKind::kGone:
      return "gone";
    case ApiErrorKind::kInvalid:
      return "invalid";
    case ApiErrorKind::kTooManyRequests:
      return "too many requests";
    case ApiErrorKind::kServerError:
      return "server error";
    case ApiErrorKind::kDecode:
      return "undecodable response";
    case ApiErrorKind::kStopped:
      return "stopped";
    case ApiErrorKind::kFenced:
      return "fenced";
  }
  return "error";
}

std::string ApiError::message() const {
  std::string text = request.empty() ? "" : request + ": ";
  text += to_string(kind);
  if (http_status != 0) text += " (" + std::to_string(http_status) + ")";
  if (!detail.empty()) text += ": " + detail;
  for (const auto& cause : causes) {
    // The API often repeats the causes in the message; add only what it left out.
    const std::string line = (cause.field.empty() ? "" : cause.field + ": ") + cause.message;
    if (detail.find(cause.message) == std::string::npos) text += "; " + line;
  }
  if (retry_after) text += " (retry after " + std::to_string(retry_after->count()) + "s)";
  return text;
}

bool ApiError::transient() const {
  switch (kind) {
    case ApiErrorKind::kTransport:
    case ApiErrorKind::kTimeout:
    case ApiErrorKind::kTooManyRequests:
    case ApiErrorKind::kServerError:
      return true;
    default:
      return false;
  }
}

ApiError error_from_response(int http_status, const std::string& body,
                             const std::optional<std::string>& retry_after_header,
                             const std::string& request) {
  ApiError error;
  error.http_status = http_status;
  error.request = request;
  const nlohmann::json status = nlohmann::json::parse(body, nullptr, false);
  if (!read_status(status, error)) {
    // Not a Status (a proxy's or a load balancer's page): keep the start of it.
    error.detail = body.substr(0, 200);
  }
  if (retry_after_header) {
    if (auto seconds = parse_seconds(*retry_after_header)) error.retry_after = seconds;
  }
  error.kind = kind_for(http_status, error.reason);
  return error;
}

ApiError error_from_status_object(const std::string& status_json, const std::string& request) {
  ApiError error;
  error.request = request;
  const nlohmann::json status = nlohmann::json::parse(status_json, nullptr, false);
  if (!read_status(status, error)) {
    error.kind = ApiErrorKind::kDecode;
    error.detail = "watch ERROR event without a Status: " + status_json.substr(0, 200);
    return error;
  }
  error.kind = kind_for(error.http_status, error.reason);
  return error;
}

}  // namespace meshprobe::kube
