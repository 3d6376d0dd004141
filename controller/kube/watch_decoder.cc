#include "kube/watch_decoder.h"

namespace meshprobe::kube {

bool LineFramer::append(const std::string& bytes) {
  std::size_t start = 0;
  while (true) {
    const std::size_t newline = bytes.find('\n', start);
    if (newline == std::string::npos) break;
    partial_.append(bytes, start, newline - start);
    if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
    if (!partial_.empty()) lines_.push_back(std::move(partial_));
    partial_.clear();
    start = newline + 1;
  }
  partial_.append(bytes, start, std::string::npos);
  return partial_.size() <= kMaximumLine;
}

std::optional<std::string> LineFramer::next_line() {
  if (lines_.empty()) return std::nullopt;
  std::string line = std::move(lines_.front());
  lines_.pop_front();
  return line;
}

ApiResult<WatchEvent> decode_watch_event(const std::string& line, const std::string& request) {
  auto decode_error = [&](const std::string& problem) {
    ApiError error;
    error.kind = ApiErrorKind::kDecode;
    error.request = request;
    error.detail = problem + ": " + line.substr(0, 200);
    return error;
  };
  nlohmann::json event = nlohmann::json::parse(line, nullptr, false);
  if (!event.is_object() || !event.contains("type") || !event["type"].is_string() ||
      !event.contains("object") || !event["object"].is_object()) {
    return decode_error("not a watch event");
  }
  const std::string type = event["type"].get<std::string>();
  if (type == "ERROR") return error_from_status_object(event["object"].dump(), request);
  WatchEvent decoded{WatchEventType::kAdded, std::move(event["object"])};
  if (type == "ADDED")
    decoded.type = WatchEventType::kAdded;
  else if (type == "MODIFIED")
    decoded.type = WatchEventType::kModified;
  else if (type == "DELETED")
    decoded.type = WatchEventType::kDeleted;
  else if (type == "BOOKMARK")
    decoded.type = WatchEventType::kBookmark;
  else
    return decode_error("unknown watch event type \"" + type + "\"");
  return decoded;
}

DecodingWatchStream::DecodingWatchStream(BodyStreamPtr body, std::string request)
    : body_(std::move(body)), request_(std::move(request)) {}

ApiResult<std::optional<WatchEvent>> DecodingWatchStream::next() {
  while (true) {
    if (auto line = framer_.next_line()) {
      auto event = decode_watch_event(*line, request_);
      if (!event) return event.error();
      return std::optional<WatchEvent>(std::move(event).value());
    }
    auto bytes = body_->read();
    if (!bytes) return bytes.error();
    if (bytes->empty()) {
      if (framer_.pending() > 0) {
        ApiError error;
        error.kind = ApiErrorKind::kTransport;
        error.request = request_;
        error.detail = "the watch ended in the middle of an event";
        return error;
      }
      return std::optional<WatchEvent>();
    }
    if (!framer_.append(*bytes)) {
      ApiError error;
      error.kind = ApiErrorKind::kDecode;
      error.request = request_;
      error.detail =
          "a watch event longer than " + std::to_string(LineFramer::kMaximumLine) + " bytes";
      return error;
    }
  }
}

}  // namespace meshprobe::kube
