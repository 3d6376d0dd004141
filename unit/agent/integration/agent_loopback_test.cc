// The agent against real applications on loopback: one case per rule of DESIGN.md "Agent
// behaviour". Every server here is real; nothing is mocked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>

#include "integration/test_servers.h"

namespace meshprobe::agent::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

probe::AppProbers http_prober(int port, std::string path,
                              std::vector<probe::HttpHeader> headers = {},
                              std::string scheme = "HTTP", int timeout_seconds = 1,
                              std::string host = "") {
  return {{"/app-health/app/livez",
           {probe::HttpGetAction{std::move(host), port, std::move(path), std::move(scheme),
                                 std::move(headers)},
            timeout_seconds}}};
}

constexpr const char* kLivez = "/app-health/app/livez";

// Sends `request` as it is and reads until the agent closes the connection (every request
// here ends with the agent closing it).
std::string raw_exchange(int port, const std::string& request) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  asio::write(socket, asio::buffer(request));
  std::string answer;
  std::array<char, 4096> chunk;
  error_code error;
  while (!error) answer.append(chunk.data(), socket.read_some(asio::buffer(chunk), error));
  return answer;
}

// An application that never answers within a test.
constexpr milliseconds kNever = std::chrono::hours(1);

// ---- HTTP: what is asked, what comes back ----

TEST(AgentHttpProbe, TheApplicationsStatusComesBackWithoutItsBody) {
  TestHttpApp app;
  app.route("/ok", {200, {}, "secret body"});
  app.route("/created", {201, {}, ""});
  app.route("/broken", {503, {}, "down"});
  for (const auto& [path, expected] : std::vector<std::pair<std::string, int>>{
           {"/ok", 200}, {"/created", 201}, {"/broken", 503}}) {
    TestAgent agent(agent_config(http_prober(app.port(), path)));
    const auto answer = http_get(agent.port(), kLivez);
    EXPECT_EQ(answer.status, expected) << path;
    EXPECT_EQ(answer.body, "") << path;
  }
}

TEST(AgentHttpProbe, ARedirectStatusIsASuccess) {
  TestHttpApp app;
  app.route("/moved", {301, {}, ""});  // no Location: nothing to follow
  TestAgent agent(agent_config(http_prober(app.port(), "/moved")));
  EXPECT_EQ(http_get(agent.port(), kLivez).status, 200);
}

TEST(AgentHttpProbe, AsksTheStoredPathWithItsQuery) {
  TestHttpApp app;
  app.route("/healthz", {});
  TestAgent agent(agent_config(http_prober(app.port(), "/healthz?verbose=1&x=%2F")));
  EXPECT_EQ(http_get(agent.port(), kLivez).status, 200);
  ASSERT_EQ(app.requests().size(), 1u);
  EXPECT_EQ(app.requests()[0].target, "/healthz?verbose=1&x=%2F");
}

TEST(AgentHttpProbe, SendsTheStoredHeadersAndTheCallersUserAgentOnly) {
  TestHttpApp app;
  app.route("/healthz", {});
  TestAgent agent(agent_config(http_prober(
      app.port(), "/healthz", {{"X-Probe", "stored"}, {"X-Multi", "1"}, {"X-Multi", "2"}})));
  const auto answer = http_get(agent.port(), kLivez,
                               {{"User-Agent", "kube-probe/1.31"},
                                {"Authorization", "Bearer stolen"},
                                {"Cookie", "session=1"},
                                {"X-Forwarded-For", "6.6.6.6"},
                                {"X-Probe", "from-caller"}});
  EXPECT_EQ(answer.status, 200);
  const auto requests = app.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& seen = requests[0];
  std::vector<std::string> names;
  for (const auto& h : seen.headers) names.push_back(h.name + ": " + h.value);
  EXPECT_THAT(names, ElementsAre("Host: 127.0.0.1:" + std::to_string(app.port()), "X-Probe: stored",
                                 "X-Multi: 1", "X-Multi: 2", "User-Agent: kube-probe/1.31",
                                 "Accept: */*", "Connection: close"));
}

TEST(AgentHttpProbe, HeaderInjectionThroughTheCallerIsImpossible) {
  TestHttpApp app;
  app.route("/healthz", {});
  TestAgent agent(agent_config(http_prober(app.port(), "/healthz")));
  // A bare CR inside the User-Agent: the agent's parser refuses the request outright.
  const std::string refused = raw_exchange(
      agent.port(), "GET " + std::string(kLivez) +
                        " HTTP/1.1\r\nHost: a\r\nUser-Agent: x\rX-Injected: 1\r\n\r\n");
  EXPECT_THAT(refused, HasSubstr("HTTP/1.1 400"));
  // Headers of its own and another Host from the caller: none of them reaches the app.
  const std::string folded = raw_exchange(
      agent.port(), "GET " + std::string(kLivez) +
                        " HTTP/1.1\r\nHost: evil.example\r\nUser-Agent: kube-probe/1.31\r\n"
                        "X-Injected: 1\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(folded, HasSubstr("HTTP/1.1 200"));
  ASSERT_EQ(app.requests().size(), 1u);
  EXPECT_EQ(app.requests()[0].header("X-Injected"), "");
  EXPECT_EQ(app.requests()[0].header("Host"), "127.0.0.1:" + std::to_string(app.port()));
  EXPECT_EQ(app.requests()[0].header("User-Agent"), "kube-probe/1.31");
}

TEST(AgentHttpProbe, HttpsIsAskedWithoutVerifyingTheCertificate) {
  TestHttpApp app(TestHttpApp::Tls::kSelfSigned);
  app.route("/secure", {204, {}, ""});
  TestAgent agent(agent_config(http_prober(app.port(), "/secure", {}, "HTTPS")));
  EXPECT_EQ(http_get(agent.port(), kLivez).status, 204);
  EXPECT_EQ(app.request_count("/secure"), 1u);
}

TEST(AgentHttpProbe, HttpsAgainstAPlainServerFails) {
  TestHttpApp app;
  app.route("/", {});
  TestAgent agent(agent_config(http_prober(app.port(), "/", {}, "HTTPS")));
  EXPECT_EQ(http_get(agent.port(), kLivez).status, 500);
  EXPECT_THAT(agent.log_lines().at(0), HasSubstr("reason=tls"));
}

// ---- where the agent dials ----

TEST(AgentHttpProbe, WithoutHostOrPodIpItAsksLoopback) {
  TestHttpApp app;
  app.route("/", {});
  TestAgent agent(agent_config(http_prober(app.port(), "/")));
  EXPECT_EQ(http_get(agent.port(), kLivez).status, 200);
}

TEST(AgentHttpProbe, WithoutHostItAsksPodIp) {
  asio::io_context io;
  error_code error;
  asio::ip::tcp::acceptor probe_v6(io);
  probe_v6.open(asio::ip::tcp::v6(), error);
  if (!error) probe_v6.bind({asio::ip::make_address("::1"), 0}, error);
  if (error) GTEST_SKIP() << "this machine has no IPv6 loopback (::1): " << error.message();
  probe_v6.close();
  TestHttpApp app(TestHttpApp::Tls::kOff, "::1");  // only on ::1: 127.0.0.1 would be refused
  app.route("/", {});
  TestAgent agent(agent_config(http_prober(app.port(), "/"), "::1"));
  EXPECT_EQ(http_get(agent.port(), kLivez).status, 200);
  EXPECT_EQ(app.requests().at(0).header("Host"), "[::1]:" + std::to_string(app.port()));
}

TEST(AgentHttpProbe, AStoredLocalhostIsDialedAs127001AndNamedInHost) {
  TestHttpApp app;
  app.route("/", {});
  TestAgent agent(
      agent_config(http_prober(app.port(), "/", {}, "HTTP", 1, "localhost"), "127.0.0.2"));
  EXPECT_EQ(http_get(agent.port(), kLivez).status, 200);
  EXPECT_EQ(app.requests().at(0).header("Host"), "localhost:" + std::to_string(app.port()));
}

// A reason to skip when this machine has no IPv6 loopback; empty when it has one.
std::string without_ipv6_loopback() {
  asio::io_context io;
  error_code error;
  asio::ip::tcp::acceptor acceptor(io);
  acceptor.open(asio::ip::tcp::v6(), error);
  if (!error) acceptor.bind({asio::ip::make_address("::1"), 0}, error);
  return error ? "this machine has no IPv6 loopback (::1): " + error.message() : "";
}

TEST(AgentHttpProbe, AStoredLocalhostReachesAnApplicationOnIpv6LoopbackOnly) {
  if (const auto why = without_ipv6_loopback(); !why.empty()) GTEST_SKIP() << why;
  TestHttpApp app(TestHttpApp::Tls::kOff,
                  "::1");  // 127.0.0.1 refuses: the kubelet's dialer then tries ::1
  app.route("/", {});
  TestAgent agent(agent_config(http_prober(app.port(), "/", {}, "HTTP", 1, "localhost")));
  EXPECT_EQ(http_get(agent.port(), kLivez).status, 200);
  EXPECT_EQ(app.requests().at(0).header("Host"), "localhost:" + std::to_string(app.port()));
}

TEST(AgentTcpProbe, AStoredLocalhostReachesAnApplicationOnIpv6LoopbackOnly) {
  if (const auto why = without_ipv6_loopback(); !why.empty()) GTEST_SKIP() << why;
  TestHttpApp app(TestHttpApp::Tls::kOff, "::1");
  TestAgent agent(agent_config({{kLivez, {probe::TcpSocketAction{"localhost", app.port()}, 1}}}));
  EXPECT_EQ(http_get(agent.port(), kLivez).status, 200);
}

// Under Istio, connections of uid 1337 (the agent's) to the pod's own address over loopback
// are captured unless they come from 127.0.0.6 (e2e/README.md "The test images"): the agent
// binds that address for them, as Istio's own agent does. 127.0.0.2 plays the pod IP here.
TEST(AgentSourceAddress, ConnectionsToThePodIpComeFrom127006ForEveryProbe) {
  TestHttpApp app(TestHttpApp::Tls::kOff, "127.0.0.2");
  app.route("/", {});
  TestAgent agent(agent_config(
      {{"/app-health/app/livez", {probe::HttpGetAction{"", app.port(), "/", "HTTP", {}}, 1}},
       {"/app-health/app/readyz", {probe::TcpSocketAction{"", app.port()}, 1}},
       {"/app-health/app/startupz", {probe::GrpcAction{app.port(), std::nullopt}, 1}}},
      "127.0.0.2"));
  EXPECT_EQ(http_get(agent.port(), "/app-health/app/livez").status, 200);
  EXPECT_EQ(http_get(agent.port(), "/app-health/app/readyz").status, 200);
  EXPECT_EQ(http_get(agent.port(), "/app-health/app/startupz").status,
            500);  // an HTTP/1 app: the source is what counts
  EXPECT_THAT(app.peers(), ElementsAre("127.0.0.6", "127.0.0.6", "127.0.0.6"));
}

TEST(AgentSourceAddress, LoopbackHostsAreDialedFromLoopback) {
  TestHttpApp app;
  app.route("/", {});
  TestAgent agent(
      agent_config(http_prober(app.port(), "/", {}, "HTTP", 1, "127.0.0.1"), "127.0.0.2"));
  EXPECT_EQ(http_get(agent.port(), kLivez).status, 200);
  EXPECT_THAT(app.peers(), ElementsAre("127.0.0.1"));
}

TEST(AgentSourceAddress, WhereTheSourceCannotBeBoundItConnectsWithoutAndSaysSoOnce) {
  if (const auto why = without_ipv6_loopback(); !why.empty()) GTEST_SKIP() << why;
  {
    asio::io_context io;
    asio::ip::tcp::socket socket(io, asio::ip::tcp::v6());
    error_code error;
    socket.bind({asio::ip::make_address("::6"), 0}, error);
    if (!error)
      GTEST_SKIP() << "this machine has ::6 (as Istio sets it up): nothing to fall back from";
  }
  TestHttpApp app(TestHttpApp::Tls::kOff,
                  "::1");  // ::1 plays an IPv6 pod IP: its exempt source ::6 is missing
  app.route("/", {});
  TestAgent agent(agent_config(http_prober(app.port(), "/"), "::1"));
  EXPECT_EQ(http_get(agent.port(), kLivez).status, 200);
  EXPECT_EQ(http_get(agent.port(), kLivez).status, 200);
  EXPECT_THAT(app.peers(), ElementsAre("::1", "::1"));
  const auto lines = agent.log_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("cannot bind the source address"));
  EXPECT_THAT(lines[0], HasSubstr("source=::6"));
}

// ---- redirects, as the kubelet follows them ----

TEST(AgentHttpProbe, ARedirectOnTheSameHostIsFollowed) {
  TestHttpApp app;
  app.route("/old", {302, {{"Location", "/new?x=1"}}, ""});
  app.route("/new", {503, {}, ""});
  TestAgent agent(agent_config(http_prober(app.port(), "/old")));
  EXPECT_EQ(http_get(agent.port(), kLivez).status, 503);  // the followed answer counts
  EXPECT_EQ(app.request_count("/new?x=1"), 1u);
}

TEST(AgentHttpProbe, ARedirectToAnotherHostIsNotFollowedAndIsASuccess) {
  TestHttpApp app;
  app.route("/away",
            {302,
             {{"Location", "http://other.example:" + std::to_string(app.port()) + "/elsewhere"}},
             ""});
  TestAgent agent(agent_config(http_prober(app.port(), "/away")));
  EXPECT_EQ(http_get(agent.port(), kLivez).status, 200);
  EXPECT_EQ(app.requests().size(),
            1u);  // nothing was asked of the other host, nor of this one again
}

TEST(AgentHttpProbe, ARedirectLoopFailsAfterTenRequests) {
  TestHttpApp app;
  app.route("/loop", {302, {{"Location", "/loop"}}, ""});
  TestAgent agent(agent_config(http_prober(app.port(), "/loop")));
  EXPECT_EQ(http_get(agent.port(), kLivez).status, 500);
  EXPECT_EQ(app.request_count("/loop"), 10u);
  EXPECT_THAT(agent.log_lines().at(0), HasSubstr("reason=too_many_redirects"));
}

// ---- timeouts and independence ----

constexpr const char* kTimeoutFailure =
    R"(meshprobe_agent_probe_failures_total{path="/app-health/app/livez",reason="timeout"} 1)";

// The probe's timeout is on the agent's clock: 30 s pass in no time, and not a moment early.
TEST(AgentHttpProbe, ASlowApplicationTimesOut) {
  TestHttpApp app;
  app.route("/slow", {200, {}, "", kNever});
  TestAgent agent(agent_config(http_prober(app.port(), "/slow", {}, "HTTP", 30)));
  auto answer = std::async(std::launch::async, [&] { return http_get(agent.port(), kLivez); });
  ASSERT_TRUE(app.wait_for_requests("/slow"));  // the probe's deadline is armed before it dials
  agent.advance_time(std::chrono::seconds(30) - milliseconds(1));
  EXPECT_THAT(agent.metrics(), Not(HasSubstr(kTimeoutFailure)));
  agent.advance_time(milliseconds(1));
  EXPECT_EQ(answer.get().status, 500);
  EXPECT_THAT(agent.log_lines().at(0), HasSubstr("reason=timeout"));
  EXPECT_THAT(agent.metrics(), HasSubstr(kTimeoutFailure));
}

TEST(AgentHttpsProbe, ASlowApplicationTimesOut) {
  TestHttpApp app(TestHttpApp::Tls::kSelfSigned);
  app.route("/slow", {200, {}, "", kNever});
  TestAgent agent(agent_config(http_prober(app.port(), "/slow", {}, "HTTPS", 5)));
  auto answer = std::async(std::launch::async, [&] { return http_get(agent.port(), kLivez); });
  ASSERT_TRUE(app.wait_for_requests("/slow"));
  agent.advance_time(std::chrono::seconds(5));
  EXPECT_EQ(answer.get().status, 500);
  EXPECT_THAT(agent.log_lines().at(0), HasSubstr("reason=timeout"));
}

// A redirect starts a new connection but not a new timeout: one deadline covers the probe.
TEST(AgentHttpProbe, OneTimeoutCoversEveryRedirect) {
  TestHttpApp app;
  app.route("/old", {302, {{"Location", "/slow"}}, ""});
  app.route("/slow", {200, {}, "", kNever});
  TestAgent agent(agent_config(http_prober(app.port(), "/old", {}, "HTTP", 2)));
  auto answer = std::async(std::launch::async, [&] { return http_get(agent.port(), kLivez); });
  ASSERT_TRUE(app.wait_for_requests("/slow"));
  agent.advance_time(std::chrono::seconds(2));
  EXPECT_EQ(answer.get().status, 500);
  EXPECT_THAT(agent.log_lines().at(0), HasSubstr("reason=timeout"));
}

TEST(AgentHttpProbe, ASlowApplicationNeverBlocksAnotherProbe) {
  TestHttpApp app;
  app.route("/slow", {200, {}, "", milliseconds(1500)});
  app.route("/fast", {});
  probe::AppProbers probers{
      {"/app-health/slow/livez", {probe::HttpGetAction{"", app.port(), "/slow", "HTTP", {}}, 3}},
      {"/app-health/fast/livez", {probe::HttpGetAction{"", app.port(), "/fast", "HTTP", {}}, 1}},
  };
  TestAgent agent(agent_config(probers));
  auto slow = std::async(std::launch::async,
                         [&] { return http_get(agent.port(), "/app-health/slow/livez").status; });
  ASSERT_TRUE(app.wait_for_requests("/slow"));
  const auto start = steady_clock::now();
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(http_get(agent.port(), "/app-health/fast/livez").status, 200);
  EXPECT_LT(steady_clock::now() - start, milliseconds(500));
  EXPECT_EQ(slow.wait_for(std::chrono::seconds(0)),
            std::future_status::timeout);  // still waiting for the app
  EXPECT_EQ(slow.get(), 200);
}

TEST(AgentHttpProbe, ARefusedConnectionIsOneLogLineNamingIt) {
  const int port = unused_port();
  TestAgent agent(agent_config(http_prober(port, "/")));
  EXPECT_EQ(http_get(agent.port(), kLivez).status, 500);
  const auto lines = agent.log_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(
      lines[0],
      HasSubstr("level=warn msg=\"probe failed\" path=/app-health/app/livez action=httpGet"));
  EXPECT_THAT(lines[0], HasSubstr("reason=connection_refused"));
  EXPECT_THAT(
      agent.metrics(),
      HasSubstr(
          R"(meshprobe_agent_probe_failures_total{path="/app-health/app/livez",reason="connection_refused"} 1)"));
}

TEST(AgentHttpProbe, LifecycleHooksAreServedTheSameWay) {
  TestHttpApp app;
  app.route("/drain", {});
  TestAgent agent(
      agent_config({{"/app-lifecycle/app/prestopz",
                     {probe::HttpGetAction{"", app.port(), "/drain", "HTTP", {}}, 5}}}));
  EXPECT_EQ(http_get(agent.port(), "/app-lifecycle/app/prestopz").status, 200);
  EXPECT_EQ(app.request_count("/drain"), 1u);
}

// ---- TCP ----

TEST(AgentTcpProbe, AListeningPortIs200) {
  TestTcpListener listener;
  TestAgent agent(agent_config({{kLivez, {probe::TcpSocketAction{"", listener.port()}, 1}}}));
  EXPECT_EQ(http_get(agent.port(), kLivez).status, 200);
}

TEST(AgentTcpProbe, AClosedPortIs500) {
  TestAgent agent(agent_config({{kLivez, {probe::TcpSocketAction{"", unused_port()}, 1}}}));
  EXPECT_EQ(http_get(agent.port(), kLivez).status, 500);
  EXPECT_THAT(agent.log_lines().at(0), HasSubstr("reason=connection_refused"));
}

// ---- gRPC, against gRPC's own health service ----

class AgentGrpcProbe : public ::testing::Test {
 protected:
  TestGrpcHealthServer server_{{{"ready", true}, {"draining", false}}};
  int status_of(std::optional<std::string> service) {
    TestAgent agent(
        agent_config({{kLivez, {probe::GrpcAction{server_.port(), std::move(service)}, 2}}}));
    const int status = http_get(agent.port(), kLivez).status;
    last_logs_ = agent.log_lines();
    return status;
  }
  std::vector<std::string> last_logs_;
};

TEST_F(AgentGrpcProbe, ServingIs200) {
  EXPECT_EQ(status_of("ready"), 200);
  EXPECT_TRUE(last_logs_.empty());
}

TEST_F(AgentGrpcProbe, TheServerAsAWholeIsAskedWithoutService) {
  EXPECT_EQ(status_of(std::nullopt), 200);
}

TEST_F(AgentGrpcProbe, NotServingIs500) {
  EXPECT_EQ(status_of("draining"), 500);
  ASSERT_EQ(last_logs_.size(), 1u);
  EXPECT_THAT(last_logs_[0], HasSubstr("reason=not_serving"));
  EXPECT_THAT(last_logs_[0], HasSubstr("NOT_SERVING"));
}

TEST_F(AgentGrpcProbe, AnUnknownServiceIs500) {
  EXPECT_EQ(status_of("nobody"), 500);
  EXPECT_THAT(last_logs_.at(0), HasSubstr("reason=grpc_status"));
}

TEST(AgentGrpcProbeWithoutServer, NoServerIs500) {
  TestAgent agent(agent_config({{kLivez, {probe::GrpcAction{unused_port(), std::nullopt}, 1}}}));
  EXPECT_EQ(http_get(agent.port(), kLivez).status, 500);
  EXPECT_THAT(agent.log_lines().at(0), HasSubstr("reason=connection_refused"));
}

TEST(AgentGrpcProbeWithoutServer, AServerThatNeverAnswersTimesOut) {
  TestTcpListener listener;  // the kernel accepts; nothing ever answers
  TestAgent agent(agent_config({{kLivez, {probe::GrpcAction{listener.port(), std::nullopt}, 7}}}));
  auto answer = std::async(std::launch::async, [&] { return http_get(agent.port(), kLivez); });
  ASSERT_TRUE(agent.wait_for_deadline_in(std::chrono::seconds(7)));  // the probe's
  agent.advance_time(std::chrono::seconds(7));
  EXPECT_EQ(answer.get().status, 500);
  EXPECT_THAT(agent.log_lines().at(0), HasSubstr("reason=timeout"));
}

TEST(AgentGrpcProbeWithoutServer, AnHttp1ApplicationIsNotAHealthyGrpcServer) {
  TestHttpApp app;
  TestAgent agent(agent_config({{kLivez, {probe::GrpcAction{app.port(), std::nullopt}, 1}}}));
  EXPECT_EQ(http_get(agent.port(), kLivez).status, 500);
}

// ---- what the agent refuses: other hosts, and the caller's headers ----
// 127.0.0.2 plays the pod IP; 127.0.0.3 is an address that is not the pod's, where a real
// listener would see any connection the agent made.

// The probers check again what the configuration checked at start: even a configuration that
// skipped validation never makes the agent connect elsewhere.
TEST(AgentRefuses, AnOffPodHostIsAnsweredWithAnErrorAndNeverDialed) {
  TestHttpApp elsewhere(TestHttpApp::Tls::kOff, "127.0.0.3");
  elsewhere.route("/", {});
  TestAgent agent(agent_config(
      {{"/app-health/app/livez",
        {probe::HttpGetAction{"127.0.0.3", elsewhere.port(), "/", "HTTP", {}}, 1}},
       {"/app-health/app/readyz", {probe::TcpSocketAction{"127.0.0.3", elsewhere.port()}, 1}}},
      "127.0.0.2"));
  EXPECT_EQ(http_get(agent.port(), "/app-health/app/livez").status, 500);
  EXPECT_EQ(http_get(agent.port(), "/app-health/app/readyz").status, 500);
  EXPECT_TRUE(elsewhere.peers().empty());
  const auto lines = agent.log_lines();
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& line : lines)
    EXPECT_THAT(line, HasSubstr(R"(host \"127.0.0.3\" is not the pod's own)"));
}

TEST(AgentRefuses, ARedirectToAnotherAddressIsNeverFollowed) {
  TestHttpApp elsewhere(TestHttpApp::Tls::kOff, "127.0.0.3");
  elsewhere.route("/x", {});
  TestHttpApp app;
  const std::string other_port = std::to_string(elsewhere.port());
  app.route("/ip", {302, {{"Location", "http://127.0.0.3:" + other_port + "/x"}}, ""});
  app.route("/scheme-relative", {302, {{"Location", "//127.0.0.3:" + other_port + "/x"}}, ""});
  app.route("/name", {302, {{"Location", "http://localhost:" + other_port + "/x"}}, ""});
  for (const char* path : {"/ip", "/scheme-relative", "/name"}) {
    TestAgent agent(agent_config(http_prober(app.port(), path)));
    EXPECT_EQ(http_get(agent.port(), kLivez).status, 200)
        << path;  // the kubelet's rule: another host is a success
  }
  EXPECT_TRUE(elsewhere.peers().empty());
}

TEST(AgentRefuses, NoHeaderOfTheCallerButItsUserAgentReachesTheApplication) {
  TestHttpApp app;
  app.route("/healthz", {});
  TestAgent agent(agent_config(http_prober(app.port(), "/healthz", {{"X-Stored", "1"}})));
  const auto answer = http_get(agent.port(), kLivez,
                               {{"Host", "evil.example"},
                                {"User-Agent", "kube-probe/1.35"},
                                {"Authorization", "Bearer stolen"},
                                {"Proxy-Authorization", "Basic c3RvbGVu"},
                                {"Cookie", "session=1"},
                                {"X-Forwarded-For", "6.6.6.6"},
                                {"X-Forwarded-Host", "evil.example"},
                                {"X-Forwarded-Proto", "https"},
                                {"Forwarded", "for=6.6.6.6"},
                                {"X-Real-IP", "6.6.6.6"},
                                {"Accept", "text/html"},
                                {"Connection", "keep-alive, X-Stored"},
                                {"X-Stored", "from-caller"},
                                {"X-Envoy-Original-Path", "/admin"}});
  EXPECT_EQ(answer.status, 200);
  const auto requests = app.requests();
  ASSERT_EQ(requests.size(), 1u);
  std::vector<std::string> seen;
  for (const auto& header : requests[0].headers) seen.push_back(header.name + ": " + header.value);
  EXPECT_THAT(seen, ElementsAre("Host: 127.0.0.1:" + std::to_string(app.port()), "X-Stored: 1",
                                "User-Agent: kube-probe/1.35", "Accept: */*", "Connection: close"));
}

// ---- the agent's own surface and its limits ----

TEST(AgentServerLimits, UnknownPathsAre404AndReachNothing) {
  TestHttpApp app;
  TestAgent agent(agent_config(http_prober(app.port(), "/")));
  for (const char* target : {"/", "/app-health/other/livez", "/app-health/app/readyz",
                             "/app-health/app/livez/../../x"}) {
    EXPECT_EQ(http_get(agent.port(), target).status, 404) << target;
  }
  EXPECT_TRUE(app.requests().empty());
}

TEST(AgentServerLimits, ReadyAndMetricsAnswer) {
  TestAgent agent(agent_config(http_prober(unused_port(), "/")));
  EXPECT_EQ(http_get(agent.port(), "/healthz/ready").status, 200);
  const auto metrics = http_get(agent.port(), "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body,
              HasSubstr(R"(meshprobe_agent_probes_total{path="/app-health/app/livez"} 0)"));
}

TEST(AgentServerLimits, KeepAliveServesSeveralRequestsOnOneConnection) {
  TestAgent agent(agent_config(http_prober(unused_port(), "/")));
  const std::string request = "GET /healthz/ready HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string last = "GET /healthz/ready HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  const std::string answer = raw_exchange(agent.port(), request + last);
  std::size_t count = 0;
  for (auto at = answer.find("HTTP/1.1 200"); at != std::string::npos;
       at = answer.find("HTTP/1.1 200", at + 1))
    ++count;
  EXPECT_EQ(count, 2u);
}

TEST(AgentServerLimits, AnOversizedHeaderIs431) {
  TestAgent agent(agent_config(http_prober(unused_port(), "/")));
  const std::string big(10 * 1024, 'a');
  const std::string answer =
      raw_exchange(agent.port(), "GET /healthz/ready HTTP/1.1\r\nX-Big: " + big + "\r\n\r\n");
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 431"));
  EXPECT_THAT(agent.metrics(),
              HasSubstr(R"(meshprobe_agent_rejected_total{reason="header_too_large"} 1)"));
}

TEST(AgentServerLimits, ACallerTooSlowToSendItsHeadersIsDropped) {
  auto config = agent_config(http_prober(unused_port(), "/"));
  config.limits.header_read_timeout = milliseconds(300);
  TestAgent agent(std::move(config));
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(agent.port())});
  asio::write(
      socket,
      asio::buffer(std::string("GET /healthz/ready HTTP/1.1\r\nHost: a\r\n")));  // never finished
  ASSERT_TRUE(agent.wait_for_deadlines(1));  // accepted: its headers are awaited
  constexpr const char* kDropped = R"(meshprobe_agent_rejected_total{reason="header_timeout"} 1)";
  agent.advance_time(milliseconds(299));
  EXPECT_THAT(agent.metrics(), Not(HasSubstr(kDropped)));
  agent.advance_time(milliseconds(1));
  std::array<char, 64> chunk;
  error_code error;
  socket.read_some(asio::buffer(chunk), error);  // the agent has closed it
  EXPECT_EQ(error, asio::error::eof);
  EXPECT_THAT(agent.metrics(), HasSubstr(kDropped));
}

TEST(AgentServerLimits, ConnectionsBeyondTheCapAreClosedAtOnce) {
  auto config = agent_config(http_prober(unused_port(), "/"));
  config.limits.max_connections = 2;
  TestAgent agent(std::move(config));
  asio::io_context io;
  std::vector<asio::ip::tcp::socket> idle;
  for (int i = 0; i < 2; ++i) {
    idle.emplace_back(io);
    idle.back().connect(
        {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(agent.port())});
  }
  ASSERT_TRUE(agent.wait_for_deadlines(2));  // the agent accepted both
  asio::ip::tcp::socket extra(io);
  extra.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(agent.port())});
  const auto start = steady_clock::now();
  std::array<char, 64> chunk;
  error_code error;
  extra.read_some(asio::buffer(chunk), error);
  EXPECT_TRUE(error == asio::error::eof || error == asio::error::connection_reset)
      << error.message();
  EXPECT_LT(steady_clock::now() - start, milliseconds(500));
  for (auto& socket : idle) socket.close();
  ASSERT_TRUE(agent.wait_for_deadlines(0));  // the agent saw them go
  EXPECT_EQ(http_get(agent.port(), "/healthz/ready").status, 200);
  EXPECT_THAT(agent.metrics(),
              HasSubstr(R"(meshprobe_agent_rejected_total{reason="connection_cap"} 1)"));
}

TEST(AgentServerLimits, StoppingAnswersTheProbesInFlightAndRefusesNewCallers) {
  TestHttpApp app;
  app.route("/slow", {200, {}, "", milliseconds(500)});
  TestAgent agent(agent_config(http_prober(app.port(), "/slow", {}, "HTTP", 3)));
  auto in_flight = std::async(std::launch::async, [&] { return http_get(agent.port(), kLivez); });
  ASSERT_TRUE(app.wait_for_requests("/slow"));
  agent.stop();
  const auto answer = in_flight.get();  // written after the agent stopped listening
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.headers.at("Connection"), "close");
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  error_code error;
  socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(agent.port())},
                 error);
  EXPECT_EQ(error, asio::error::connection_refused);
}

// ---- the binary: one clear line and a non-zero exit for a bad configuration ----

CommandOutput run_agent_binary(const std::string& environment, const std::string& arguments = "") {
  return run_command("env -i " + environment + " " + MESHPROBE_AGENT_BINARY + " " + arguments);
}

TEST(AgentBinary, ABadConfigurationIsOneLineAndExitStatus2) {
  const std::pair<std::string, std::string> cases[] = {
      {"ISTIO_KUBE_APP_PROBERS='{'", "ISTIO_KUBE_APP_PROBERS: not valid JSON"},
      {R"(ISTIO_KUBE_APP_PROBERS='{"/app-health/a/livez": {"httpGet": {"port": "http"}}}')",
       "httpGet.port must be an integer"},
      {R"(ISTIO_KUBE_APP_PROBERS='{"/app-health/a/livez": {"httpGet": {"port": 1}, "grpc": {"port": 2}}}')",
       "exactly one of"},
      {"", "ISTIO_KUBE_APP_PROBERS is not set"},
      {R"(ISTIO_KUBE_APP_PROBERS='{}' POD_IP=nowhere)", "POD_IP must be an IP address"},
  };
  for (const auto& [environment, expected] : cases) {
    const auto result = run_agent_binary(environment);
    EXPECT_EQ(result.exit_code, 2) << environment;
    EXPECT_THAT(result.output, HasSubstr(expected)) << environment;
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
  }
  EXPECT_EQ(run_agent_binary("ISTIO_KUBE_APP_PROBERS='{}'", "--port 70000").exit_code, 2);
}

TEST(AgentBinary, AStoredHostThatIsNotThePodsOwnStopsItAtStart) {
  TestHttpApp elsewhere(TestHttpApp::Tls::kOff, "127.0.0.3");
  const std::string port = std::to_string(elsewhere.port());
  const std::vector<std::string> actions = {
      R"("httpGet": {"host": "127.0.0.3", "port": )" + port + "}",
      R"("tcpSocket": {"host": "127.0.0.3", "port": )" + port + "}",
      R"("httpGet": {"host": "metadata.google.internal", "port": 80})"};
  for (const auto& action : actions) {
    const auto result = run_agent_binary(
        "POD_IP=127.0.0.2 ISTIO_KUBE_APP_PROBERS='{\"/app-health/a/livez\": {" + action + "}}'");
    EXPECT_EQ(result.exit_code, 2) << action;
    EXPECT_THAT(result.output, HasSubstr("is not the pod's own address")) << action;
  }
  EXPECT_TRUE(elsewhere.peers().empty());
}

TEST(AgentBinary, NeedsOnlyGlibcAtRunTime) {
#ifndef MESHPROBE_AGENT_LINKS_ONLY_GLIBC
  GTEST_SKIP()
      << "this build links the agent dynamically (sanitizers, or MESHPROBE_AGENT_STATIC=OFF)";
#endif
  const auto result = run_command(std::string("readelf -d ") + MESHPROBE_AGENT_BINARY);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::istringstream lines(result.output);
  std::vector<std::string> needed;
  for (std::string line; std::getline(lines, line);) {
    const auto open = line.find("Shared library: [");
    if (open != std::string::npos)
      needed.push_back(line.substr(open + 17, line.find(']', open) - open - 17));
  }
  for (const auto& library : needed) {
    EXPECT_TRUE(library == "libc.so.6" || library == "libm.so.6" ||
                library.rfind("ld-linux", 0) == 0)
        << library;
  }
  EXPECT_FALSE(needed.empty());
}

TEST(AgentBinary, HelpNamesTheFlags) {
  const auto result = run_agent_binary("", "--help");
  EXPECT_EQ(result.exit_code, 0);
  for (const char* flag :
       {"--port", "--log-level", "--log-format", "--max-connections", "--header-read-timeout-ms"}) {
    EXPECT_THAT(result.output, HasSubstr(flag));
  }
}

}  // namespace
}  // namespace meshprobe::agent::testing
