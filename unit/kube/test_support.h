// Small real helpers shared by the kube unit tests (not mocks: they record, they do not
// pretend).
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "kube/api_error.h"
#include "kube/logger.h"

namespace meshprobe::kube {

// Keeps every line, for tests that check what a person would be told.
class RecordingLogger final : public Logger {
 public:
  void log(LogLevel level, std::string_view message) override {
    std::lock_guard lock(mutex_);
    lines_.emplace_back(message);
    levels_.push_back(level);
  }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  // The lines a logger at `minimum` would print.
  std::vector<std::string> lines(LogLevel minimum) const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> shown;
    for (std::size_t index = 0; index < lines_.size(); ++index) {
      if (levels_[index] >= minimum) shown.push_back(lines_[index]);
    }
    return shown;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
  std::vector<LogLevel> levels_;
};

inline ApiError api_error(ApiErrorKind kind, int http_status = 0) {
  ApiError error;
  error.kind = kind;
  error.http_status = http_status;
  return error;
}

}  // namespace meshprobe::kube
