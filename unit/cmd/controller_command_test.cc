#include "cmd/controller_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cmd/build_info.h"
#include "cmd/json_logger.h"

namespace meshprobe::cmd {
namespace {

using ::testing::HasSubstr;

kube::EnvironmentLookup environment(std::map<std::string, std::string> variables) {
  return [variables](const std::string& name) -> std::optional<std::string> {
    auto found = variables.find(name);
    if (found == variables.end()) return std::nullopt;
    return found->second;
  };
}

class ControllerCommandLineTest : public ::testing::Test {
 protected:
  std::string write_config(const std::string& text) {
    std::ofstream(path_) << text;
    return path_.string();
  }
  void TearDown() override { std::filesystem::remove(path_); }

  std::filesystem::path path_ = std::filesystem::temp_directory_path() /
                                ("controller-config-" + std::to_string(::getpid()) + ".yaml");
};

TEST_F(ControllerCommandLineTest, DefaultsWithoutArguments) {
  auto parsed = parse_controller_command_line({}, environment({}));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->config.agent_image, default_agent_image());
  EXPECT_EQ(parsed->config.leader_election.namespace_name, "meshprobe-system");
  EXPECT_EQ(parsed->config.log_format, controller::LogFormat::kText);
  EXPECT_TRUE(parsed->kubeconfig.empty());
}

TEST_F(ControllerCommandLineTest, FlagsOverrideTheFileWhichOverridesTheDefaults) {
  const std::string config = write_config("agentPort: 15200\nworkers: 8\nlog:\n  format: json\n");
  auto parsed = parse_controller_command_line(
      {"--config", config, "--workers", "2", "--kubeconfig", "/tmp/kc", "--lease-duration", "30s"},
      environment({}));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->config.agent_port, 15200);
  EXPECT_EQ(parsed->config.workers, 2);
  EXPECT_EQ(parsed->config.log_format, controller::LogFormat::kJson);
  EXPECT_EQ(parsed->config.leader_election.lease_duration, std::chrono::seconds(30));
  EXPECT_EQ(parsed->kubeconfig, "/tmp/kc");
}

TEST_F(ControllerCommandLineTest, TheLeaseNamespaceComesFromTheFlagElsePodNamespace) {
  auto from_environment =
      parse_controller_command_line({}, environment({{"POD_NAMESPACE", "ops"}}));
  EXPECT_EQ(from_environment->config.leader_election.namespace_name, "ops");
  auto from_flag = parse_controller_command_line({"--leader-election-namespace", "mine"},
                                                 environment({{"POD_NAMESPACE", "ops"}}));
  EXPECT_EQ(from_flag->config.leader_election.namespace_name, "mine");
}

// Issue 17, kubebuilder's convention: leader election off unless asked for; --leader-elect
// alone asks (the install's config file does too), --leader-elect=false turns it off again.
TEST_F(ControllerCommandLineTest, LeaderElectionIsOffUnlessAskedFor) {
  EXPECT_FALSE(parse_controller_command_line({}, environment({}))->config.leader_election.enabled);
  EXPECT_TRUE(parse_controller_command_line({"--leader-elect"}, environment({}))
                  ->config.leader_election.enabled);
  EXPECT_TRUE(parse_controller_command_line({"--leader-elect=true"}, environment({}))
                  ->config.leader_election.enabled);
  EXPECT_FALSE(parse_controller_command_line({"--leader-elect=false"}, environment({}))
                   ->config.leader_election.enabled);
  auto bad = parse_controller_command_line({"--leader-elect=maybe"}, environment({}));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("--leader-elect"));
}

TEST_F(ControllerCommandLineTest, BadInputIsOneMessage) {
  auto bad_flag = parse_controller_command_line({"--agent-port", "15001"}, environment({}));
  ASSERT_FALSE(bad_flag.ok());
  EXPECT_THAT(bad_flag.error().message, HasSubstr("--agent-port: agentPort: must be an integer"));
  EXPECT_EQ(bad_flag.error().exit_status, kExitUsage);

  auto unknown = parse_controller_command_line({"--no-such-flag"}, environment({}));
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.error().message, HasSubstr("no-such-flag"));

  auto missing =
      parse_controller_command_line({"--config", "/nonexistent/config.yaml"}, environment({}));
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("cannot read --config /nonexistent/config.yaml"));
  EXPECT_EQ(missing.error().exit_status, kExitFailure);

  const std::string config = write_config("workers: many\n");
  auto invalid = parse_controller_command_line({"--config", config}, environment({}));
  ASSERT_FALSE(invalid.ok());
  EXPECT_THAT(invalid.error().message,
              HasSubstr("workers: must be an integer in 1..64, got \"many\""));

  auto timings =
      parse_controller_command_line({"--leader-elect", "--renew-deadline", "20s"}, environment({}));
  ASSERT_FALSE(timings.ok());
  EXPECT_THAT(timings.error().message, HasSubstr("leaseDuration must be greater"));
}

TEST_F(ControllerCommandLineTest, HelpDocumentsEveryFlagWithItsConfigKey) {
  auto parsed = parse_controller_command_line({"--help"}, environment({}));
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->help);
  for (const auto& key : controller::setting_keys()) {
    EXPECT_THAT(parsed->help_text, HasSubstr("[" + std::string(key) + "]"));
  }
  EXPECT_THAT(parsed->help_text, HasSubstr("--kubeconfig"));
}

TEST(JsonLoggerTest, OneObjectALineAtOrAboveTheLevel) {
  std::ostringstream out;
  JsonLogger logger(out, kube::LogLevel::kInfo);
  logger.log(kube::LogLevel::kDebug, "hidden");
  logger.info("rewrote \"liveness\" → agent");
  const auto line = nlohmann::json::parse(out.str());
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["message"], "rewrote \"liveness\" → agent");
  EXPECT_TRUE(line.contains("time"));
  EXPECT_EQ(out.str().find("hidden"), std::string::npos);
}

}  // namespace
}  // namespace meshprobe::cmd
