// Runs a program to completion and collects its output: how the end-to-end harness drives
// kubectl and any other binary a test needs.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace meshprobe::e2e {

struct CommandResult {
  std::string command_line;  // for failure messages
  // The exit code; 128 + N when killed by signal N; -1 when it could not be started or
  // was killed for running past its timeout (standard_error then says which).
  int exit_status = -1;
  std::string standard_output;
  std::string standard_error;

  bool succeeded() const { return exit_status == 0; }
};

// Runs `arguments` (arguments[0] is the program's path) with `input` on its standard input
// and the test's environment; kills it, and every process it started, after `timeout`.
CommandResult run_command(const std::vector<std::string>& arguments, std::string_view input,
                          std::chrono::milliseconds timeout);

// For ASSERT_TRUE/EXPECT_TRUE: success, or the command line, exit status and both outputs.
::testing::AssertionResult command_succeeded(const CommandResult& result);

}  // namespace meshprobe::e2e
