#include "agent/agent_config.h"

#include <gtest/gtest.h>

#include <map>

#include "probe/names.h"

namespace meshprobe::agent {
namespace {

constexpr const char* kOneProbe =
    R"({"/app-health/web/livez": {"httpGet": {"path": "/", "port": 8080}}})";

class ParseCommandLine : public ::testing::Test {
 protected:
  Result<CommandLine> parse(std::vector<std::string> arguments) {
    arguments.insert(arguments.begin(), "meshprobe-agent");
    std::vector<const char*> argv;
    for (const auto& a : arguments) argv.push_back(a.c_str());
    return parse_command_line(
        static_cast<int>(argv.size()), argv.data(), [this](const std::string& name) {
          auto it = environment.find(name);
          return it == environment.end() ? std::nullopt : std::optional<std::string>(it->second);
        });
  }
  std::string error_of(std::vector<std::string> arguments) {
    auto parsed = parse(std::move(arguments));
    return parsed ? std::string("(no error)") : parsed.error().message;
  }

  std::map<std::string, std::string> environment{{"ISTIO_KUBE_APP_PROBERS", kOneProbe},
                                                 {"POD_IP", "10.1.2.3"}};
};

TEST_F(ParseCommandLine, DefaultsToTheAgentPortAndJsonLogs) {
  auto parsed = parse({});
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const auto& config = *parsed->config;
  EXPECT_EQ(config.port, probe::kDefaultAgentPort);
  EXPECT_EQ(config.port, 15120);
  EXPECT_EQ(config.log_level, LogLevel::kInfo);
  EXPECT_EQ(config.log_format, LogFormat::kJson);
  EXPECT_EQ(config.pod_ip, "10.1.2.3");
  EXPECT_EQ(config.probers.size(), 1u);
  EXPECT_EQ(config.limits.max_connections, 64u);
}

TEST_F(ParseCommandLine, ReadsEveryFlag) {
  auto parsed = parse({"--port", "16000", "--log-level", "debug", "--log-format", "text",
                       "--address", "::1", "--header-read-timeout-ms", "250", "--max-header-bytes",
                       "1024", "--max-connections", "3"});
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const auto& config = *parsed->config;
  EXPECT_EQ(config.port, 16000);
  EXPECT_EQ(config.log_level, LogLevel::kDebug);
  EXPECT_EQ(config.log_format, LogFormat::kText);
  EXPECT_EQ(config.address, "::1");
  EXPECT_EQ(config.limits.header_read_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(config.limits.max_header_bytes, 1024u);
  EXPECT_EQ(config.limits.max_connections, 3u);
}

TEST_F(ParseCommandLine, HelpReturnsUsageWithoutConfig) {
  auto parsed = parse({"--help"});
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->config.has_value());
  EXPECT_NE(parsed->usage.find("--port"), std::string::npos);
}

TEST_F(ParseCommandLine, EveryBadInputIsOneLineNamingIt) {
  struct Case {
    std::vector<std::string> arguments;
    std::map<std::string, std::string> environment_changes;
    std::string expected_substring;
  };
  const Case cases[] = {
      {{"--port", "0"}, {}, "--port must be in 1..65535"},
      {{"--port", "x"}, {}, "command line:"},
      {{"--nope"}, {}, "unrecognised option '--nope'"},
      {{"--log-level", "loud"}, {}, "--log-level must be debug, info, warn or error"},
      {{"--log-format", "xml"}, {}, "--log-format must be json or text"},
      {{"--address", "example.com"}, {}, "--address must be an IP address"},
      {{"--max-connections", "0"}, {}, "--max-connections must be at least 1"},
      {{"--max-header-bytes", "10"}, {}, "--max-header-bytes must be at least 512"},
      {{"--header-read-timeout-ms", "0"}, {}, "--header-read-timeout-ms must be positive"},
      {{}, {{"POD_IP", "pod-1"}}, "POD_IP must be an IP address"},
      {{}, {{"ISTIO_KUBE_APP_PROBERS", "{"}}, "ISTIO_KUBE_APP_PROBERS: not valid JSON"},
      {{}, {{"ISTIO_KUBE_APP_PROBERS", R"({"/x": {}})"}}, "key \"/x\" is not"},
      {{},
       {{"ISTIO_KUBE_APP_PROBERS", R"({"/app-health/a/livez": {"httpGet": {"port": "80"}}})"}},
       "httpGet.port must be an integer"},
      {{},
       {{"ISTIO_KUBE_APP_PROBERS",
         R"({"/app-health/a/livez": {"httpGet": {"port": 80}, "tcpSocket": {"port": 80}}})"}},
       "exactly one of"},
      {{},
       {{"ISTIO_KUBE_APP_PROBERS",
         R"({"/app-health/a/livez": {"httpGet": {"port": 80, "host": "10.9.9.9"}}})"}},
       "httpGet.host \"10.9.9.9\" is not the pod's own address"},
      {{},
       {{"ISTIO_KUBE_APP_PROBERS",
         R"({"/app-health/a/livez": {"tcpSocket": {"port": 80, "host": "db"}}})"}},
       "tcpSocket.host \"db\" is not the pod's own address"},
      {{},
       {{"ISTIO_KUBE_APP_PROBERS",
         R"({"/app-health/a/livez": {"httpGet": {"port": 80, "httpHeaders": [{"name": "X", "value": "a\r\nB: c"}]}}})"}},
       "httpHeaders entry \"X\" is not a valid header"},
      // Found by agent_config_fuzzer: what the input holds is escaped, so the error stays one line.
      {{},
       {{"POD_IP", "10.0.0.1\nlevel=info msg=forged"}},
       R"(POD_IP must be an IP address, got "10.0.0.1\nlevel=info msg=forged")"},
      {{},
       {{"ISTIO_KUBE_APP_PROBERS", R"({"/x\n\u001b[31m": {}})"}},
       R"(key "/x\n\x1b[31m" is not)"},
      {{},
       {{"ISTIO_KUBE_APP_PROBERS",
         R"({"/app-health/a/livez": {"tcpSocket": {"port": 80, "host": "a\r\nb"}}})"}},
       R"(tcpSocket.host "a\x0d\nb" is not)"},
      {{},
       {{"ISTIO_KUBE_APP_PROBERS",
         R"({"/app-health/a/livez": {"grpc": {"port": 80, "x\ny": 1}}})"}},
       R"(grpc."x\ny" is not a known field)"},
      {{}, {{"ISTIO_KUBE_APP_PROBERS", "\x7f{}"}}, R"(last read: '\x7f')"},
      // Found by agent_config_fuzzer: a number too large for a double threw past the parser.
      {{},
       {{"ISTIO_KUBE_APP_PROBERS", R"({"/app-health/a/livez": {"tcpSocket": {"port": 1e400}}})"}},
       "ISTIO_KUBE_APP_PROBERS: not valid JSON: [json.exception.out_of_range.406] number overflow"},
  };
  for (const auto& c : cases) {
    auto saved = environment;
    for (const auto& [name, value] : c.environment_changes) environment[name] = value;
    const std::string error = error_of(c.arguments);
    EXPECT_NE(error.find(c.expected_substring), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
    environment = saved;
  }
}

TEST_F(ParseCommandLine, MissingProbersIsAnError) {
  environment.erase("ISTIO_KUBE_APP_PROBERS");
  EXPECT_EQ(error_of({}), "ISTIO_KUBE_APP_PROBERS is not set: the agent has nothing to serve");
}

TEST_F(ParseCommandLine, WithoutPodIpTheConfigStillLoads) {
  environment.erase("POD_IP");
  auto parsed = parse({});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->config->pod_ip, "");
}

TEST(ValidateProbersForAgent, AcceptsThePodsOwnHostsOnly) {
  probe::AppProbers probers{
      {"/app-health/a/livez", {probe::HttpGetAction{"localhost", 80, "/", "HTTP", {}}, 1}},
      {"/app-health/a/readyz", {probe::TcpSocketAction{"10.1.2.3", 81}, 1}},
      {"/app-health/a/startupz", {probe::GrpcAction{82, std::nullopt}, 1}},
  };
  EXPECT_FALSE(validate_probers_for_agent(probers, "10.1.2.3").has_value());
  EXPECT_TRUE(validate_probers_for_agent(probers, "10.1.2.4").has_value());
}

}  // namespace
}  // namespace meshprobe::agent
