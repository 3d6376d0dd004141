#include "agent/probe_request_handler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/mocks/fake_clock.h"
#include "agent/mocks/mock_logger.h"
#include "agent/mocks/mock_probers.h"

namespace meshprobe::agent {
namespace {

using ::testing::_;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Field;
using ::testing::Invoke;
using ::testing::SaveArg;
using ::testing::StrictMock;

const probe::AppProbers kProbers{
    {"/app-health/web/livez",
     {probe::HttpGetAction{"", 8080, "/healthz?x=1", "HTTP", {{"X-A", "b"}}}, 3}},
    {"/app-health/web/readyz", {probe::TcpSocketAction{"", 8081}, 1}},
    {"/app-health/grpc/startupz", {probe::GrpcAction{9090, std::string("svc")}, 2}},
    {"/app-lifecycle/web/prestopz", {probe::HttpGetAction{"", 8080, "/stop", "HTTP", {}}, 5}},
};

MATCHER_P2(LogField, key, value, "") {
  return arg.key == key && std::holds_alternative<std::decay_t<decltype(value)>>(arg.value) &&
         std::get<std::decay_t<decltype(value)>>(arg.value) == value;
}

class ProbeRequestHandlerTest : public ::testing::Test {
 protected:
  ProbeRequestHandlerTest()
      : metrics_(paths()), handler_(kProbers, {http_, tcp_, grpc_}, metrics_, logger_, clock_) {}

  static std::vector<std::string> paths() {
    std::vector<std::string> out;
    for (const auto& [path, _] : kProbers) out.push_back(path);
    return out;
  }

  // Handles a request and returns its reply, which must come exactly once.
  std::optional<Reply> handle(std::string method, std::string target,
                              std::string user_agent = "kube-probe/1.31") {
    std::optional<Reply> reply;
    int replies = 0;
    handler_.handle(IncomingRequest{std::move(method), std::move(target), std::move(user_agent)},
                    [&](Reply r) {
                      ++replies;
                      reply = std::move(r);
                    });
    EXPECT_LE(replies, 1);
    return reply;
  }

  StrictMock<MockHttpProber> http_;
  StrictMock<MockTcpProber> tcp_;
  StrictMock<MockGrpcProber> grpc_;
  StrictMock<MockLogger> logger_;
  FakeClock clock_;
  AgentMetrics metrics_;
  ProbeRequestHandler handler_;
};

TEST_F(ProbeRequestHandlerTest, UnknownPathsAre404AndProbeNothing) {
  for (const char* target : {"/", "/app-health/web/livez/", "/app-health/other/livez",
                             "/app-health/web/livez2", "/app-health/web/../web/livez",
                             "/APP-HEALTH/web/livez", "http://evil/app-health/web/livez"}) {
    auto reply = handle("GET", target);
    ASSERT_TRUE(reply) << target;
    EXPECT_EQ(reply->status, 404) << target;
    EXPECT_TRUE(reply->body.empty());
  }
  EXPECT_NE(metrics_.render().find(R"(meshprobe_agent_rejected_total{reason="not_found"} 7)"),
            std::string::npos);
}

TEST_F(ProbeRequestHandlerTest, OnlyGetIsServed) {
  for (const char* method : {"POST", "PUT", "DELETE", "HEAD", "OPTIONS"}) {
    auto reply = handle(method, "/app-health/web/livez");
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 405) << method;
  }
}

TEST_F(ProbeRequestHandlerTest, ReadyAndMetricsAreItsOwn) {
  auto ready = handle("GET", "/healthz/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  auto metrics = handle("GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics->body.find(R"(meshprobe_agent_probes_total{path="/app-health/web/livez"} 0)"),
            std::string::npos);
}

TEST_F(ProbeRequestHandlerTest, HttpProbeGetsTheStoredActionTimeoutAndOnlyTheCallersUserAgent) {
  EXPECT_CALL(http_,
              probe(std::get<probe::HttpGetAction>(kProbers.at("/app-health/web/livez").action),
                    std::chrono::seconds(3), "kube-probe/1.31", _))
      .WillOnce(Invoke([](auto&&, auto, auto, ProbeCallback done) {
        done(ProbeOutcome{204, FailureReason::kNone, {}});
      }));
  auto reply = handle("GET", "/app-health/web/livez");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 204);
  EXPECT_TRUE(reply->body.empty());
}

TEST_F(ProbeRequestHandlerTest, AQueryOnTheAgentPathIsIgnoredNotForwarded) {
  EXPECT_CALL(http_, probe(Field(&probe::HttpGetAction::path, "/healthz?x=1"), _, _, _))
      .WillOnce(
          Invoke([](auto&&, auto, auto, ProbeCallback done) { done(ProbeOutcome::success()); }));
  auto reply = handle("GET", "/app-health/web/livez?path=/admin");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
}

TEST_F(ProbeRequestHandlerTest, TcpAndGrpcGoToTheirProbers) {
  EXPECT_CALL(tcp_, probe(probe::TcpSocketAction{"", 8081}, std::chrono::seconds(1), _))
      .WillOnce(Invoke([](auto&&, auto, ProbeCallback done) { done(ProbeOutcome::success()); }));
  EXPECT_CALL(grpc_, probe(probe::GrpcAction{9090, std::string("svc")}, std::chrono::seconds(2),
                           "kube-probe/1.31", _))
      .WillOnce(
          Invoke([](auto&&, auto, auto, ProbeCallback done) { done(ProbeOutcome::success()); }));
  EXPECT_EQ(handle("GET", "/app-health/web/readyz")->status, 200);
  EXPECT_EQ(handle("GET", "/app-health/grpc/startupz")->status, 200);
}

TEST_F(ProbeRequestHandlerTest, LifecycleHooksAreServedLikeProbes) {
  EXPECT_CALL(http_,
              probe(Field(&probe::HttpGetAction::path, "/stop"), std::chrono::seconds(5), _, _))
      .WillOnce(
          Invoke([](auto&&, auto, auto, ProbeCallback done) { done(ProbeOutcome::success()); }));
  EXPECT_EQ(handle("GET", "/app-lifecycle/web/prestopz")->status, 200);
}

TEST_F(ProbeRequestHandlerTest, TheReplyWaitsForTheProbe) {
  ProbeCallback pending;
  EXPECT_CALL(tcp_, probe(_, _, _)).WillOnce(SaveArg<2>(&pending));
  std::optional<Reply> reply;
  handler_.handle(IncomingRequest{"GET", "/app-health/web/readyz", ""},
                  [&](Reply r) { reply = r; });
  EXPECT_FALSE(reply);
  clock_.advance(std::chrono::milliseconds(40));
  pending(ProbeOutcome::success());
  ASSERT_TRUE(reply);
  EXPECT_NE(
      metrics_.render().find(
          R"(meshprobe_agent_probe_duration_seconds_bucket{path="/app-health/web/readyz",le="0.025"} 0)"),
      std::string::npos);
  EXPECT_NE(
      metrics_.render().find(
          R"(meshprobe_agent_probe_duration_seconds_bucket{path="/app-health/web/readyz",le="0.05"} 1)"),
      std::string::npos);
}

TEST_F(ProbeRequestHandlerTest, AFailedProbeIsOneLogLineWithItsReasonAndCounted) {
  EXPECT_CALL(tcp_, probe(_, _, _)).WillOnce(Invoke([this](auto&&, auto, ProbeCallback done) {
    clock_.advance(std::chrono::milliseconds(2));
    done(ProbeOutcome::failure(FailureReason::kConnectionRefused,
                               "connect to 10.1.2.3:8081: Connection refused"));
  }));
  EXPECT_CALL(logger_,
              log(LogLevel::kWarn, "probe failed",
                  AllOf(Contains(LogField("path", std::string("/app-health/web/readyz"))),
                        Contains(LogField("action", std::string("tcpSocket"))),
                        Contains(LogField("port", std::int64_t{8081})),
                        Contains(LogField("reason", std::string("connection_refused"))),
                        Contains(LogField(
                            "detail", std::string("connect to 10.1.2.3:8081: Connection refused"))),
                        Contains(LogField("status", std::int64_t{500})),
                        Contains(LogField("duration_ms", 2.0)))))
      .Times(1);
  auto reply = handle("GET", "/app-health/web/readyz");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 500);
  EXPECT_NE(
      metrics_.render().find(
          R"(meshprobe_agent_probe_failures_total{path="/app-health/web/readyz",reason="connection_refused"} 1)"),
      std::string::npos);
}

TEST_F(ProbeRequestHandlerTest, TheApplicationsFailingStatusComesBack) {
  EXPECT_CALL(http_, probe(_, _, _, _)).WillOnce(Invoke([](auto&&, auto, auto, ProbeCallback done) {
    done(ProbeOutcome::failure(FailureReason::kStatusCode, "application answered HTTP 503", 503));
  }));
  EXPECT_CALL(logger_, log(LogLevel::kWarn, "probe failed",
                           Contains(LogField("reason", std::string("status_code")))));
  EXPECT_EQ(handle("GET", "/app-health/web/livez")->status, 503);
}

TEST_F(ProbeRequestHandlerTest, EveryProbeAsksAfresh) {
  EXPECT_CALL(tcp_, probe(_, _, _))
      .Times(3)
      .WillRepeatedly(
          Invoke([](auto&&, auto, ProbeCallback done) { done(ProbeOutcome::success()); }));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(handle("GET", "/app-health/web/readyz")->status, 200);
  EXPECT_NE(
      metrics_.render().find(R"(meshprobe_agent_probes_total{path="/app-health/web/readyz"} 3)"),
      std::string::npos);
}

}  // namespace
}  // namespace meshprobe::agent
