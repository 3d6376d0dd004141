#include "kube/api_error.h"

#include <charconv>

#include <nlohmann/json.hpp>

namespace meshprobe::kube {
namespace {

ApiErrorKind kindFor(int status, const std::string& reason) {
  switch (status) {
    case 400: case 405: case 406: case 415: return ApiErrorKind::kBadRequest;
    case 401: return ApiErrorKind::kUnauthorized;
    case 403: return ApiErrorKind::kForbidden;
    case 404: return ApiErrorKind::kNotFound;
    case 409:
      return reason == "AlreadyExists" ? ApiErrorKind::kAlreadyExists : ApiErrorKind::kConflict;
    case 410: return ApiErrorKind::kGone;
    case 422: return ApiErrorKind::kInvalid;
    case 429: return ApiErrorKind::kTooManyRequests;
    case 504: return ApiErrorKind::kTimeout;
    default: break;
  }
  if (reason == "Timeout") return ApiErrorKind::kTimeout;
  if (status >= 500) return ApiErrorKind::kServerError;
  return ApiErrorKind::kBadRequest;
}

std::optional<std::chrono::seconds> parseSeconds(const std::string& text) {
  long long value = 0;
  auto [end, problem] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (problem != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return std::chrono::seconds(value);
}

// Fills reason, detail, causes and retryAfter from a Status object; false when it is none.
bool readStatus(const nlohmann::json& status, ApiError& error) {
  if (!status.is_object() || status.value("kind", "") != "Status") return false;
  error.reason = status.value("reason", "");
  error.detail = status.value("message", "");
  if (error.httpStatus == 0 && status.contains("code") && status["code"].is_number_integer()) {
    error.httpStatus = status["code"].get<int>();
  }
  const auto details = status.find("details");
  if (details != status.end() && details->is_object()) {
    if (auto causes = details->find("causes"); causes != details->end() && causes->is_array()) {
      for (const auto& cause : *causes) {
        if (!cause.is_object()) continue;
        error.causes.push_back({cause.value("reason", ""), cause.value("field", ""),
                                cause.value("message", "")});
      }
    }
    if (auto seconds = details->find("retryAfterSeconds");
        seconds != details->end() && seconds->is_number_integer() && seconds->get<int>() > 0) {
      error.retryAfter = std::chrono::seconds(seconds->get<int>());
    }
  }
  return true;
}

}  // namespace

const char* toString(ApiErrorKind kind) {
  switch (kind) {
    case ApiErrorKind::kTransport: return "transport error";
    case ApiErrorKind::kTimeout: return "timeout";
    case ApiErrorKind::kBadRequest: return "bad request";
    case ApiErrorKind::kUnauthorized: return "unauthorized";
    case ApiErrorKind::kForbidden: return "forbidden";
    case ApiErrorKind::kNotFound: return "not found";
    case ApiErrorKind::kAlreadyExists: return "already exists";
    case ApiErrorKind::kConflict: return "conflict";
    case ApiErrorKind::kGone: return "gone";
    case ApiErrorKind::kInvalid: return "invalid";
    case ApiErrorKind::kTooManyRequests: return "too many requests";
    case ApiErrorKind::kServerError: return "server error";
    case ApiErrorKind::kDecode: return "undecodable response";
    case ApiErrorKind::kStopped: return "stopped";
  }
  return "error";
}

std::string ApiError::message() const {
  std::string text = request.empty() ? "" : request + ": ";
  text += toString(kind);
  if (httpStatus != 0) text += " (" + std::to_string(httpStatus) + ")";
  if (!detail.empty()) text += ": " + detail;
  for (const auto& cause : causes) {
    // The API often repeats the causes in the message; add only what it left out.
    const std::string line = (cause.field.empty() ? "" : cause.field + ": ") + cause.message;
    if (detail.find(cause.message) == std::string::npos) text += "; " + line;
  }
  if (retryAfter) text += " (retry after " + std::to_string(retryAfter->count()) + "s)";
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

ApiError errorFromResponse(int httpStatus, const std::string& body,
                           const std::optional<std::string>& retryAfterHeader,
                           const std::string& request) {
  ApiError error;
  error.httpStatus = httpStatus;
  error.request = request;
  const nlohmann::json status = nlohmann::json::parse(body, nullptr, false);
  if (!readStatus(status, error)) {
    // Not a Status (a proxy's or a load balancer's page): keep the start of it.
    error.detail = body.substr(0, 200);
  }
  if (retryAfterHeader) {
    if (auto seconds = parseSeconds(*retryAfterHeader)) error.retryAfter = seconds;
  }
  error.kind = kindFor(httpStatus, error.reason);
  return error;
}

ApiError errorFromStatusObject(const std::string& statusJson, const std::string& request) {
  ApiError error;
  error.request = request;
  const nlohmann::json status = nlohmann::json::parse(statusJson, nullptr, false);
  if (!readStatus(status, error)) {
    error.kind = ApiErrorKind::kDecode;
    error.detail = "watch ERROR event without a Status: " + statusJson.substr(0, 200);
    return error;
  }
  error.kind = kindFor(error.httpStatus, error.reason);
  return error;
}

}  // namespace meshprobe::kube
