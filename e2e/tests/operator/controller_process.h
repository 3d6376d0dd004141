// The controller under test: `meshprobe controller` as a child process of the test, out of
// cluster, as an operator would run it; its output goes to a log file the test can read.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "probe/result.h"

namespace meshprobe::e2e {

class ControllerProcess {
 public:
  // Starts `binary controller ARGUMENTS...` with stdout and stderr going to `log_path`.
  static Result<std::unique_ptr<ControllerProcess>> start(const std::string& binary,
                                                          const std::vector<std::string>& arguments,
                                                          std::string log_path);
  ~ControllerProcess();
  ControllerProcess(const ControllerProcess&) = delete;
  ControllerProcess& operator=(const ControllerProcess&) = delete;

  // SIGTERM, then waits up to `timeout` (then SIGKILL). The exit status, 128 + N for signal N.
  int stop(std::chrono::seconds timeout = std::chrono::seconds(30));
  bool running();
  std::string log() const;
  const std::string& log_path() const { return log_path_; }

 private:
  ControllerProcess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}
  pid_t pid_;
  std::string log_path_;
  int exit_status_ = -1;
};

// A TCP port on 127.0.0.1 that nothing listens on right now.
int free_port();

}  // namespace meshprobe::e2e
