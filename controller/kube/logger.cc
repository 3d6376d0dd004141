#include "kube/logger.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace meshprobe::kube {

void StderrLogger::log(LogLevel level, std::string_view message) {
  if (level < minimum_) return;
  static constexpr const char* kNames[] = {"DEBUG", "INFO", "WARNING", "ERROR"};
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
  std::lock_guard lock(mutex_);
  std::fprintf(stderr, "%s %s %.*s\n", stamp, kNames[static_cast<int>(level)],
               static_cast<int>(message.size()), message.data());
}

}  // namespace meshprobe::kube
