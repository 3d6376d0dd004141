#include "cmd/json_logger.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "kube/leader_election.h"

namespace meshprobe::cmd {

void JsonLogger::log(kube::LogLevel level, std::string_view message) {
  if (level < minimum_) return;
  static constexpr std::string_view kNames[] = {"debug", "info", "warning", "error"};
  const nlohmann::json line = {{"time", kube::format_micro_time(std::chrono::system_clock::now())},
                               {"level", kNames[static_cast<int>(level)]},
                               {"message", message}};
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::lock_guard lock(mutex_);
  out_ << text << '\n';
  out_.flush();
}

}  // namespace meshprobe::cmd
