// JsonLogger: the controller's log lines as JSON objects, one a line, for log collectors
// ({"time":"...","level":"info","message":"..."}); the text format is kube::StderrLogger's.
#pragma once

#include <mutex>
#include <ostream>
#include <string_view>

#include "kube/logger.h"

namespace meshprobe::cmd {

class JsonLogger final : public kube::Logger {
 public:
  JsonLogger(std::ostream& out, kube::LogLevel minimum) : out_(out), minimum_(minimum) {}
  void log(kube::LogLevel level, std::string_view message) override;

 private:
  std::ostream& out_;
  const kube::LogLevel minimum_;
  std::mutex mutex_;
};

}  // namespace meshprobe::cmd
