#include "operator/controller_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

namespace meshprobe::controller {
namespace {

using ::testing::HasSubstr;

// The config file the install ships (config/manager/controller_config.yaml, key config.yaml).
std::string shipped_config() {
  const YAML::Node config_map =
      YAML::LoadFile(std::string(MESHPROBE_SOURCE_DIR) + "/config/manager/controller_config.yaml");
  return config_map["data"]["config.yaml"].as<std::string>();
}

TEST(ControllerConfigTest, TheShippedConfigSetsEveryKey) {
  ControllerConfig config;
  config.log_format = LogFormat::kText;
  auto applied = apply_config_yaml(config, shipped_config());
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_EQ(config.agent_port, 15120);
  EXPECT_EQ(config.root_namespace, "istio-system");
  EXPECT_TRUE(config.default_rewrite);
  EXPECT_EQ(config.excluded_namespaces,
            (std::vector<std::string>{"kube-system", "kube-public", "kube-node-lease"}));
  EXPECT_EQ(config.workers, 4);
  EXPECT_EQ(config.api_qps, 50);
  EXPECT_EQ(config.api_burst, 100);
  EXPECT_TRUE(config.leader_election.enabled) << "the install asks for leader election";
  EXPECT_FALSE(ControllerConfig{}.leader_election.enabled) << "the binary's default is off";
  EXPECT_EQ(config.leader_election.lease_name, "meshprobe-controller");
  EXPECT_EQ(config.leader_election.lease_duration, std::chrono::seconds(15));
  EXPECT_EQ(config.leader_election.renew_deadline, std::chrono::seconds(10));
  EXPECT_EQ(config.leader_election.retry_period, std::chrono::seconds(2));
  EXPECT_EQ(config.health_probe_bind_address, ":8081");
  EXPECT_EQ(config.metrics_bind_address, ":8080");
  EXPECT_EQ(config.log_level, "info");
  EXPECT_EQ(config.log_format, LogFormat::kJson);
  EXPECT_TRUE(validate(config).ok());
}

TEST(ControllerConfigTest, EveryKeyOfTheShippedConfigIsASetting) {
  const YAML::Node root = YAML::Load(shipped_config());
  std::vector<std::string> keys;
  std::function<void(const YAML::Node&, const std::string&)> walk = [&](const YAML::Node& node,
                                                                        const std::string& path) {
    if (!node.IsMap()) {
      keys.push_back(path);
      return;
    }
    for (const auto& entry : node)
      walk(entry.second, (path.empty() ? "" : path + ".") + entry.first.as<std::string>());
  };
  walk(root, "");
  for (const auto& key : keys) {
    EXPECT_THAT(setting_keys(), ::testing::Contains(key));
  }
}

struct BadValue {
  std::string key;
  std::string text;
  std::string message;
};

class BadValueTest : public ::testing::TestWithParam<BadValue> {};

TEST_P(BadValueTest, IsOneMessageNamingTheKeyAndTheValue) {
  ControllerConfig config;
  auto set = set_setting(config, GetParam().key, GetParam().text);
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().message, GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Settings, BadValueTest,
    ::testing::Values(
        BadValue{"agentPort", "15001",
                 "agentPort: must be an integer in 1..65535 outside Istio's reserved 15000-15099, "
                 "got \"15001\""},
        BadValue{"agentPort", "http",
                 "agentPort: must be an integer in 1..65535 outside Istio's reserved 15000-15099, "
                 "got \"http\""},
        BadValue{"defaultRewrite", "yes", "defaultRewrite: must be true or false, got \"yes\""},
        BadValue{"workers", "0", "workers: must be an integer in 1..64, got \"0\""},
        BadValue{"apiQPS", "-1", "apiQPS: must be a positive number, got \"-1\""},
        BadValue{"leaderElection.leaseDuration", "15",
                 "leaderElection.leaseDuration: must be a duration such as 15s, 500ms or 1m30s, "
                 "got \"15\""},
        BadValue{"healthProbeBindAddress", "localhost",
                 "healthProbeBindAddress: must be [HOST]:PORT (\":8081\", \"127.0.0.1:0\") or "
                 "\"0\" to turn it off, got \"localhost\""},
        BadValue{"log.format", "xml", "log.format: must be text or json, got \"xml\""},
        BadValue{"agentimage", "x", "unknown setting \"agentimage\""}));

TEST(ControllerConfigTest, AMisspeltKeyInTheFileIsAnError) {
  ControllerConfig config;
  auto applied = apply_config_yaml(config, "leaderElection:\n  leaseDuraton: 15s\n");
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().message, "unknown setting \"leaderElection.leaseDuraton\"");
}

TEST(ControllerConfigTest, NotYamlOrNotAMappingIsAnError) {
  ControllerConfig config;
  EXPECT_THAT(apply_config_yaml(config, "agentPort: [").error().message, HasSubstr("not YAML"));
  EXPECT_EQ(apply_config_yaml(config, "- a\n- b\n").error().message,
            "must be a mapping of settings");
}

TEST(ControllerConfigTest, ExcludedNamespacesFromAListOrCommaSeparatedText) {
  ControllerConfig config;
  ASSERT_TRUE(apply_config_yaml(config, "excludedNamespaces: [a, b]\n").ok());
  EXPECT_EQ(config.excluded_namespaces, (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(set_setting(config, "excludedNamespaces", "c, d,").ok());
  EXPECT_EQ(config.excluded_namespaces, (std::vector<std::string>{"c", "d"}));
  ASSERT_TRUE(apply_config_yaml(config, "excludedNamespaces: []\n").ok());
  EXPECT_TRUE(config.excluded_namespaces.empty());
}

TEST(ControllerConfigTest, RolloutPacingAndOwnedTemplates) {
  ControllerConfig config;
  EXPECT_EQ(config.max_concurrent_rollouts, 10);
  EXPECT_EQ(config.rollout_deadline, std::chrono::minutes(10));
  EXPECT_FALSE(config.rewrite_owned_templates);
  ASSERT_TRUE(apply_config_yaml(config,
                                "maxConcurrentRollouts: 0\nrolloutDeadline: 90s\n"
                                "rewriteOwnedTemplates: true\n")
                  .ok());
  EXPECT_EQ(config.max_concurrent_rollouts, 0);
  EXPECT_EQ(config.rollout_deadline, std::chrono::seconds(90));
  EXPECT_TRUE(config.rewrite_owned_templates);
  EXPECT_EQ(set_setting(config, "maxConcurrentRollouts", "-1").error().message,
            "maxConcurrentRollouts: must be an integer >= 0 (0: unlimited), got \"-1\"");
  EXPECT_FALSE(set_setting(config, "rolloutDeadline", "0s").ok());
}

TEST(ControllerConfigTest, LeaderElectionTimingsFollowClientGosRules) {
  ControllerConfig config;
  config.leader_election.enabled = true;
  config.leader_election.renew_deadline = std::chrono::seconds(20);
  EXPECT_THAT(validate(config).error().message, HasSubstr("leaseDuration must be greater"));
  config.leader_election.renew_deadline = std::chrono::seconds(2);
  EXPECT_THAT(validate(config).error().message, HasSubstr("1.2 * leaderElection.retryPeriod"));
  config.leader_election.enabled = false;
  EXPECT_TRUE(validate(config).ok());
}

TEST(ParseDurationTest, GoDurations) {
  EXPECT_EQ(*parse_duration("15s"), std::chrono::seconds(15));
  EXPECT_EQ(*parse_duration("500ms"), std::chrono::milliseconds(500));
  EXPECT_EQ(*parse_duration("1m30s"), std::chrono::seconds(90));
  EXPECT_EQ(*parse_duration("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_EQ(*parse_duration("2h"), std::chrono::hours(2));
  EXPECT_FALSE(parse_duration("").ok());
  EXPECT_FALSE(parse_duration("5x").ok());
  EXPECT_FALSE(parse_duration("s").ok());
}

}  // namespace
}  // namespace meshprobe::controller
