#include "probe/app_probers.h"

#include <gtest/gtest.h>

namespace meshprobe::probe {
namespace {

TEST(ProberPath, BuildsAndParsesEverySlot) {
  const std::pair<ProbeSlot, std::string> cases[] = {
      {ProbeSlot::kLiveness, "/app-health/web/livez"},
      {ProbeSlot::kReadiness, "/app-health/web/readyz"},
      {ProbeSlot::kStartup, "/app-health/web/startupz"},
      {ProbeSlot::kPreStop, "/app-lifecycle/web/prestopz"},
      {ProbeSlot::kPostStart, "/app-lifecycle/web/poststartz"},
  };
  for (const auto& [slot, path] : cases) {
    EXPECT_EQ(prober_path("web", slot), path);
    auto parsed = parse_prober_path(path);
    ASSERT_TRUE(parsed.has_value()) << path;
    EXPECT_EQ(parsed->container, "web");
    EXPECT_EQ(parsed->slot, slot);
  }
}

TEST(ProberPath, RejectsWhatIsNotAProberPath) {
  for (const char* path :
       {"/app-health/web", "/app-health/web/livez/x", "/app-health//livez", "/app-health/Web/livez",
        "/app-health/web/prestopz", "/app-lifecycle/web/livez", "/healthz/ready",
        "/app-health/-x/livez", ""}) {
    EXPECT_FALSE(parse_prober_path(path).has_value()) << path;
  }
}

TEST(PodLocalHost, OnlyLoopbackNamesAndEmpty) {
  for (const char* host : {"", "localhost", "127.0.0.1", "::1"})
    EXPECT_TRUE(is_pod_local_host(host)) << host;
  for (const char* host : {"10.0.0.1", "example.com", "127.0.0.2", "[::1]", "LOCALHOST."}) {
    EXPECT_FALSE(is_pod_local_host(host)) << host;
  }
}

TEST(AppProbers, ParsesIstioShape) {
  auto parsed = parse_app_probers(R"({
    "/app-health/web/livez": {"httpGet": {"path": "/foo?x=1", "port": 8001, "scheme": "HTTPS",
        "host": "localhost", "httpHeaders": [{"name": "X-A", "value": "b"}]}, "timeoutSeconds": 3},
    "/app-health/web/readyz": {"tcpSocket": {"port": 8002}},
    "/app-health/grpc/startupz": {"grpc": {"port": 9090, "service": "svc"}, "timeoutSeconds": 2},
    "/app-lifecycle/web/prestopz": {"grpc": {"port": 9091}}
  })");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const auto& probers = *parsed;
  ASSERT_EQ(probers.size(), 4u);
  EXPECT_EQ(probers.at("/app-health/web/livez"),
            (AppProber{HttpGetAction{"localhost", 8001, "/foo?x=1", "HTTPS", {{"X-A", "b"}}}, 3}));
  EXPECT_EQ(probers.at("/app-health/web/readyz"), (AppProber{TcpSocketAction{"", 8002}, 1}));
  EXPECT_EQ(probers.at("/app-health/grpc/startupz"), (AppProber{GrpcAction{9090, "svc"}, 2}));
  EXPECT_EQ(probers.at("/app-lifecycle/web/prestopz"),
            (AppProber{GrpcAction{9091, std::nullopt}, 1}));
}

TEST(AppProbers, SerializeThenParseIsIdentity) {
  AppProbers probers{
      {"/app-health/a/livez", {HttpGetAction{"", 80, "/", "HTTP", {}}, 1}},
      {"/app-health/a/readyz",
       {HttpGetAction{"::1", 443, "/r?q", "HTTPS", {{"A", "1"}, {"A", "2"}}}, 10}},
      {"/app-health/b/startupz", {TcpSocketAction{"127.0.0.1", 5432}, 4}},
      {"/app-lifecycle/b/poststartz", {GrpcAction{50051, ""}, 1}},
  };
  auto parsed = parse_app_probers(serialize_app_probers(probers));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, probers);
}

TEST(AppProbers, EmptyObjectIsValid) {
  auto parsed = parse_app_probers("{}");
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->empty());
}

struct BadConfig {
  const char* json;
  const char* expected_message_part;
};

class AppProbersRejects : public ::testing::TestWithParam<BadConfig> {};

TEST_P(AppProbersRejects, WithOneLineNamingTheProblem) {
  auto parsed = parse_app_probers(GetParam().json);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find(GetParam().expected_message_part), std::string::npos)
      << parsed.error().message;
  EXPECT_EQ(parsed.error().message.find('\n'), std::string::npos) << parsed.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, AppProbersRejects,
    ::testing::Values(
        BadConfig{"{", "not valid JSON"}, BadConfig{"[]", "must be a JSON object"},
        BadConfig{R"({"/foo": {"tcpSocket": {"port": 1}}})", "key \"/foo\" is not"},
        BadConfig{R"({"/app-health/a/livez": 3})", "value must be an object"},
        BadConfig{R"({"/app-health/a/livez": {}})",
                  "exactly one of httpGet, tcpSocket, grpc; it holds 0"},
        BadConfig{R"({"/app-health/a/livez": {"httpGet": {"port": 1}, "tcpSocket": {"port": 1}}})",
                  "it holds 2"},
        BadConfig{R"({"/app-health/a/livez": {"httpGet": {"port": "http"}}})",
                  "httpGet.port must be an integer, got \"http\""},
        BadConfig{R"({"/app-health/a/livez": {"httpGet": {"port": 1.5}}})",
                  "httpGet.port must be an integer"},
        BadConfig{R"({"/app-health/a/livez": {"tcpSocket": {"port": 70000}}})",
                  "tcpSocket.port must be in 1..65535"},
        BadConfig{R"({"/app-health/a/livez": {"grpc": {}}})", "grpc.port is missing"},
        BadConfig{R"({"/app-health/a/livez": {"grpc": {"port": 1, "service": 3}}})",
                  "grpc.service must be a string"},
        BadConfig{R"({"/app-health/a/livez": {"httpGet": {"port": 1, "scheme": "ftp"}}})",
                  "httpGet.scheme must be HTTP or HTTPS"},
        BadConfig{R"({"/app-health/a/livez": {"httpGet": {"port": 1, "path": "x"}}})",
                  "httpGet.path must start with /"},
        BadConfig{
            R"({"/app-health/a/livez": {"httpGet": {"port": 1, "httpHeaders": [{"value": "v"}]}}})",
            "httpGet.httpHeaders entries"},
        BadConfig{R"({"/app-health/a/livez": {"httpGet": {"port": 1, "bogus": 1}}})",
                  "httpGet.bogus is not a known field"},
        BadConfig{R"({"/app-health/a/livez": {"exec": {}}})", "exec is not a known field"},
        BadConfig{R"({"/app-health/a/livez": {"tcpSocket": {"port": 1}, "timeoutSeconds": 0}})",
                  "timeoutSeconds must be an integer in 1..86400"}));

}  // namespace
}  // namespace meshprobe::probe
