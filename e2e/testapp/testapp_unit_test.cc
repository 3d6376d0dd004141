#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "health_switches.h"
#include "mesh_redirect.h"

namespace meshprobe::e2e {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(HealthChangeTest, ParsesEachCheckAndBothWords) {
  auto change = parse_health_change("/health/grpc", "failing\n");
  ASSERT_TRUE(change.ok()) << change.error().message;
  EXPECT_EQ(change->check, HealthCheck::kGrpc);
  EXPECT_TRUE(change->failing);
  change = parse_health_change("/health/tcp", "passing");
  ASSERT_TRUE(change.ok()) << change.error().message;
  EXPECT_EQ(change->check, HealthCheck::kTcp);
  EXPECT_FALSE(change->failing);
}

TEST(HealthChangeTest, RefusesUnknownChecksPathsAndWords) {
  EXPECT_THAT(parse_health_change("/health/udp", "failing").error().message,
              HasSubstr("unknown health check \"udp\""));
  EXPECT_THAT(parse_health_change("/status/http", "failing").error().message,
              HasSubstr("no such resource /status/http"));
  EXPECT_THAT(parse_health_change("/health/http", "down").error().message,
              HasSubstr("expected \"failing\" or \"passing\""));
}

TEST(HealthCheckListTest, ParsesAListAndRefusesUnknownNames) {
  auto checks = parse_health_check_list("http,grpc");
  ASSERT_TRUE(checks.ok());
  EXPECT_THAT(*checks, ElementsAre(HealthCheck::kHttp, HealthCheck::kGrpc));
  EXPECT_TRUE(parse_health_check_list("")->empty());
  EXPECT_FALSE(parse_health_check_list("http,").ok());
  EXPECT_FALSE(parse_health_check_list("exec").ok());
}

TEST(HealthSwitchesTest, StartPassingAndReportEachCheck) {
  HealthSwitches switches;
  EXPECT_EQ(switches.json(), R"({"http":"passing","tcp":"passing","grpc":"passing"})");
  switches.set(HealthCheck::kTcp, true);
  EXPECT_TRUE(switches.failing(HealthCheck::kTcp));
  EXPECT_EQ(switches.json(), R"({"http":"passing","tcp":"failing","grpc":"passing"})");
}

TEST(PortListTest, ParsesIstioAnnotationSyntax) {
  EXPECT_THAT(*parse_port_list("15120, 9090"), ElementsAre(15120, 9090));
  EXPECT_THAT(*parse_port_list("8080"), ElementsAre(8080));
  EXPECT_TRUE(parse_port_list("")->empty());
  EXPECT_TRUE(parse_port_list("  ")->empty());
}

TEST(PortListTest, RefusesWhatIsNotAPort) {
  EXPECT_THAT(parse_port_list("15120,http").error().message,
              HasSubstr("\"http\" is not a port (1-65535) in the port list \"15120,http\""));
  EXPECT_FALSE(parse_port_list("0").ok());
  EXPECT_FALSE(parse_port_list("65536").ok());
  EXPECT_FALSE(parse_port_list("80,,81").ok());
  EXPECT_FALSE(parse_port_list("80x").ok());
}

TEST(RedirectRulesetTest, RedirectsInboundTcpExceptTheProxyPortAndExcludedPorts) {
  const std::string script =
      redirect_ruleset({.proxy_port = 15006, .excluded_inbound_ports = {15120, 9090}});
  EXPECT_EQ(script,
            "add table inet meshprobe-mesh-nat\n"
            "add chain inet meshprobe-mesh-nat prerouting { type nat hook prerouting priority "
            "dstnat; policy accept; }\n"
            "add chain inet meshprobe-mesh-nat mesh-inbound\n"
            "add rule inet meshprobe-mesh-nat prerouting meta l4proto tcp jump mesh-inbound\n"
            "add rule inet meshprobe-mesh-nat mesh-inbound tcp dport 15006 return\n"
            "add rule inet meshprobe-mesh-nat mesh-inbound tcp dport 15120 return\n"
            "add rule inet meshprobe-mesh-nat mesh-inbound tcp dport 9090 return\n"
            "add rule inet meshprobe-mesh-nat mesh-inbound meta l4proto tcp redirect to :15006\n");
}

TEST(RedirectRulesetTest, WithoutExclusionsOnlyTheProxyPortPasses) {
  const std::string script = redirect_ruleset({.proxy_port = 15001, .excluded_inbound_ports = {}});
  EXPECT_THAT(script, HasSubstr("mesh-inbound tcp dport 15001 return\n"));
  EXPECT_THAT(script, HasSubstr("redirect to :15001\n"));
  EXPECT_EQ(script.find("dport 15120"), std::string::npos);
}

}  // namespace
}  // namespace meshprobe::e2e
