#include "agent/logger.h"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace meshprobe::agent {
namespace {

std::string rfc3339(std::chrono::system_clock::time_point time) {
  const auto since_epoch = time.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t t = seconds.count();
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(millis));
  return buffer;
}

// logfmt: bare when the value is a plain word, else quoted with JSON escapes.
std::string text_value(const std::string& value) {
  const bool bare = !value.empty() && value.find_first_of(" \"=\\\t\r\n") == std::string::npos;
  return bare ? value : nlohmann::json(value).dump();
}

std::string number_text(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3f", value);
  return buffer;
}

}  // namespace

Result<LogLevel> parse_log_level(std::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warn") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  return Error{"--log-level must be debug, info, warn or error, got \"" + std::string(text) + "\""};
}

Result<LogFormat> parse_log_format(std::string_view text) {
  if (text == "json") return LogFormat::kJson;
  if (text == "text") return LogFormat::kText;
  return Error{"--log-format must be json or text, got \"" + std::string(text) + "\""};
}

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string format_log_line(LogFormat format, std::chrono::system_clock::time_point time,
                            LogLevel level, std::string_view message,
                            const std::vector<LogField>& fields) {
  if (format == LogFormat::kJson) {
    // ordered_json keeps time, level, msg first, as people read them.
    nlohmann::ordered_json line;
    line["time"] = rfc3339(time);
    line["level"] = log_level_name(level);
    line["msg"] = message;
    for (const auto& field : fields) {
      std::visit([&](const auto& value) { line[field.key] = value; }, field.value);
    }
    return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string line = "time=" + rfc3339(time) + " level=" + std::string(log_level_name(level)) +
                     " msg=" + text_value(std::string(message));
  for (const auto& field : fields) {
    line += " " + field.key + "=";
    std::visit(
        [&](const auto& value) {
          using T = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<T, std::string>)
            line += text_value(value);
          else if constexpr (std::is_same_v<T, double>)
            line += number_text(value);
          else
            line += std::to_string(value);
        },
        field.value);
  }
  return line;
}

void StreamLogger::log(LogLevel level, std::string_view message,
                       const std::vector<LogField>& fields) {
  if (level < minimum_) return;
  out_ << format_log_line(format_, clock_.system_now(), level, message, fields) << '\n'
       << std::flush;
}

}  // namespace meshprobe::agent
