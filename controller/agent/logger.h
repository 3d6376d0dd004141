// Structured log lines: one line per event, as JSON or as logfmt-style text.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "agent/clock.h"
#include "probe/result.h"

namespace meshprobe::agent {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat { kJson, kText };

Result<LogLevel> parse_log_level(std::string_view text);    // debug|info|warn|error
Result<LogFormat> parse_log_format(std::string_view text);  // json|text
std::string_view log_level_name(LogLevel level);

struct LogField {
  std::string key;
  std::variant<std::string, std::int64_t, double> value;
};

class Logger {
 public:
  virtual ~Logger() = default;
  virtual void log(LogLevel level, std::string_view message,
                   const std::vector<LogField>& fields) = 0;
};

using LoggerPtr = std::unique_ptr<Logger>;

// One line: {"time":"2026-01-02T03:04:05.678Z","level":"warn","msg":"...","key":value,...}
// or: time=2026-01-02T03:04:05.678Z level=warn msg="..." key=value ...
std::string format_log_line(LogFormat format, std::chrono::system_clock::time_point time,
                            LogLevel level, std::string_view message,
                            const std::vector<LogField>& fields);

// Writes lines at or above `minimum` to `out`, flushing each.
class StreamLogger final : public Logger {
 public:
  StreamLogger(std::ostream& out, LogFormat format, LogLevel minimum, const Clock& clock)
      : out_(out), format_(format), minimum_(minimum), clock_(clock) {}

  void log(LogLevel level, std::string_view message, const std::vector<LogField>& fields) override;

 private:
  std::ostream& out_;
  LogFormat format_;
  LogLevel minimum_;
  const Clock& clock_;
};

}  // namespace meshprobe::agent
