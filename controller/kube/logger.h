// Logger: where the runtime reports what a person operating the controller needs to know
// (watch restarts, leadership changes, retries). One line per message.
#pragma once

#include <memory>
#include <mutex>
#include <string_view>

namespace meshprobe::kube {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

class Logger {
 public:
  virtual ~Logger() = default;
  virtual void log(LogLevel level, std::string_view message) = 0;
  void info(std::string_view message) { log(LogLevel::kInfo, message); }
  void warning(std::string_view message) { log(LogLevel::kWarning, message); }
  void error(std::string_view message) { log(LogLevel::kError, message); }
};
using LoggerPtr = std::unique_ptr<Logger>;

// "<UTC time> <LEVEL> <message>" on stderr, lines never interleaved.
class StderrLogger final : public Logger {
 public:
  explicit StderrLogger(LogLevel minimum = LogLevel::kInfo) : minimum_(minimum) {}
  void log(LogLevel level, std::string_view message) override;

 private:
  LogLevel minimum_;
  std::mutex mutex_;
};

}  // namespace meshprobe::kube
