// run_command drives every kubectl call of the end-to-end tests; these cases run real processes
// (no cluster needed) and are labelled "integration".
#include "harness/command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace meshprobe::e2e {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

CommandResult shell(const std::string& script, std::string_view input = {},
                    std::chrono::milliseconds timeout = 10s) {
  return run_command({"/bin/sh", "-c", script}, input, timeout);
}

TEST(RunCommandTest, SeparatesStandardOutputFromStandardErrorAndReportsTheExitCode) {
  CommandResult result = shell("echo out; echo err >&2; exit 3");
  EXPECT_EQ(result.exit_status, 3);
  EXPECT_EQ(result.standard_output, "out\n");
  EXPECT_EQ(result.standard_error, "err\n");
  EXPECT_FALSE(result.succeeded());
}

TEST(RunCommandTest, FeedsInputLargerThanAPipeBufferWhileReadingOutput) {
  std::string input(4 * 1024 * 1024, 'x');
  CommandResult result = run_command({"/bin/cat"}, input, 30s);
  ASSERT_TRUE(command_succeeded(result));
  EXPECT_EQ(result.standard_output.size(), input.size());
  EXPECT_EQ(result.standard_output, input);
}

TEST(RunCommandTest, SurvivesAProgramThatExitsWithoutReadingItsInput) {
  CommandResult result = shell("exit 0", std::string(4 * 1024 * 1024, 'x'));
  EXPECT_TRUE(command_succeeded(result));
}

TEST(RunCommandTest, KillsAProgramThatRunsPastItsTimeout) {
  auto start = std::chrono::steady_clock::now();
  // The shell's child holds standard output open too: it must be killed with the shell. Its
  // duration names it uniquely, so another `sleep` on the machine cannot be mistaken for it.
  const std::string sleep = "sleep 30." + std::to_string(getpid());
  CommandResult result = shell(sleep + "; echo done", {}, 300ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(run_command({"/usr/bin/pgrep", "-f", "^" + sleep + "$"}, {}, 10s).exit_status, 1)
      << "the shell's child outlived the timeout";
  EXPECT_EQ(result.exit_status, -1);
  EXPECT_THAT(result.standard_error, HasSubstr("killed after 300 ms"));
}

TEST(RunCommandTest, ReportsAKillingSignalAs128PlusItsNumber) {
  EXPECT_EQ(shell("kill -TERM $$").exit_status, 128 + 15);
}

TEST(RunCommandTest, ExplainsAProgramThatCannotBeStarted) {
  CommandResult result = run_command({"/nonexistent/kubectl", "version"}, {}, 10s);
  EXPECT_EQ(result.exit_status, -1);
  EXPECT_THAT(result.standard_error, HasSubstr("cannot start /nonexistent/kubectl"));
}

TEST(RunCommandTest, QuotesTheCommandLineForFailureMessages) {
  CommandResult result = shell("echo 'it''s'; exit 1");
  EXPECT_EQ(result.command_line, R"(/bin/sh -c 'echo '\''it'\'''\''s'\''; exit 1')");
  EXPECT_THAT(std::string(command_succeeded(result).message()), HasSubstr("exited with 1"));
}

}  // namespace
}  // namespace meshprobe::e2e
