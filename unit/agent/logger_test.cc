#include "agent/logger.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/mocks/fake_clock.h"

namespace meshprobe::agent {
namespace {

const auto kTime = std::chrono::system_clock::time_point(
    std::chrono::milliseconds(1'767'323'045'678));  // 2026-01-02T03:04:05.678Z

TEST(FormatLogLine, JsonKeepsFieldsTypedAndOrdered) {
  const std::string line = format_log_line(LogFormat::kJson, kTime, LogLevel::kWarn, "probe failed",
                                           {{"path", std::string("/app-health/web/livez")},
                                            {"status", std::int64_t{503}},
                                            {"duration_ms", 1.5}});
  EXPECT_EQ(
      line,
      R"({"time":"2026-01-02T03:04:05.678Z","level":"warn","msg":"probe failed","path":"/app-health/web/livez","status":503,"duration_ms":1.5})");
}

TEST(FormatLogLine, JsonEscapesWhatCouldBreakTheLine) {
  const std::string line = format_log_line(LogFormat::kJson, kTime, LogLevel::kInfo, "m",
                                           {{"detail", std::string("a\"b\nc")}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(line)["detail"], "a\"b\nc");
}

TEST(FormatLogLine, TextQuotesOnlyWhenNeeded) {
  const std::string line =
      format_log_line(LogFormat::kText, kTime, LogLevel::kError, "probe failed",
                      {{"reason", std::string("timeout")},
                       {"detail", std::string("connect to 127.0.0.1:1: timed out")},
                       {"status", std::int64_t{500}},
                       {"duration_ms", 2.0}});
  EXPECT_EQ(line,
            "time=2026-01-02T03:04:05.678Z level=error msg=\"probe failed\" reason=timeout "
            "detail=\"connect to 127.0.0.1:1: timed out\" status=500 duration_ms=2.000");
}

TEST(StreamLogger, WritesOneLinePerEventAtOrAboveItsLevel) {
  std::ostringstream out;
  FakeClock clock;
  clock.set_system(kTime);
  StreamLogger logger(out, LogFormat::kText, LogLevel::kWarn, clock);
  logger.log(LogLevel::kInfo, "quiet", {});
  logger.log(LogLevel::kWarn, "loud", {});
  logger.log(LogLevel::kError, "louder", {});
  EXPECT_EQ(out.str(),
            "time=2026-01-02T03:04:05.678Z level=warn msg=loud\n"
            "time=2026-01-02T03:04:05.678Z level=error msg=louder\n");
}

TEST(ParseLogLevelAndFormat, AcceptTheDocumentedNames) {
  EXPECT_EQ(*parse_log_level("debug"), LogLevel::kDebug);
  EXPECT_EQ(*parse_log_level("error"), LogLevel::kError);
  EXPECT_FALSE(parse_log_level("WARN").ok());
  EXPECT_EQ(*parse_log_format("text"), LogFormat::kText);
  EXPECT_FALSE(parse_log_format("yaml").ok());
}

}  // namespace
}  // namespace meshprobe::agent
