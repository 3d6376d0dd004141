#include "agent/http_probe_request.h"

#include <gtest/gtest.h>

namespace meshprobe::agent {
namespace {

using probe::HttpGetAction;
using probe::HttpHeader;
using Kind = RedirectDecision::Kind;

HttpProbeState state_for(std::string host, int port, std::string target, int requests_made = 1) {
  HttpProbeState state;
  state.url = ProbeUrl{"http", std::move(host), port, std::move(target)};
  state.requests_made = requests_made;
  return state;
}

TEST(InitialProbeState, AsksStoredHostElsePodIpElseLoopback) {
  HttpGetAction action{"", 8080, "/healthz?verbose=1", "HTTPS", {}};
  EXPECT_EQ(initial_probe_state(action, "10.1.2.3").url,
            (ProbeUrl{"https", "10.1.2.3", 8080, "/healthz?verbose=1"}));
  EXPECT_EQ(initial_probe_state(action, "").url.host, "127.0.0.1");
  action.host = "localhost";
  EXPECT_EQ(initial_probe_state(action, "10.1.2.3").url.host, "localhost");
}

// Found by agent_config_fuzzer's invariant (every request target is one token): a stored path
// with CR LF went out as it was, so the configuration could add lines to the request.
TEST(InitialProbeState, BytesThatCannotBeInATargetArePercentEncoded) {
  HttpGetAction action{"", 80, "/a b\r\nX-Injected: 1?q=\x7f\xc3\xa9&e=%2F", "HTTP", {}};
  EXPECT_EQ(initial_probe_state(action, "").url.target,
            "/a%20b%0D%0AX-Injected:%201?q=%7F%C3%A9&e=%2F");
  EXPECT_EQ(build_probe_request(initial_probe_state(action, ""), {}, "").target,
            "/a%20b%0D%0AX-Injected:%201?q=%7F%C3%A9&e=%2F");
}

TEST(InitialProbeState, AStoredHostHeaderBecomesTheHost) {
  HttpGetAction action{"", 80, "/", "HTTP", {{"host", "app.example"}}};
  EXPECT_EQ(initial_probe_state(action, "").host_header, "app.example");
}

TEST(DialAddresses, OnlyThePodsOwnAddressesLocalhostAsBothLoopbacks) {
  using Addresses = std::vector<std::string>;
  EXPECT_EQ(dial_addresses("localhost", "10.1.2.3"), (Addresses{"127.0.0.1", "::1"}));
  EXPECT_EQ(dial_addresses("127.0.0.1", ""), Addresses{"127.0.0.1"});
  EXPECT_EQ(dial_addresses("::1", ""), Addresses{"::1"});
  EXPECT_EQ(dial_addresses("10.1.2.3", "10.1.2.3"), Addresses{"10.1.2.3"});
  for (const char* other :
       {"10.1.2.4", "example.com", "0.0.0.0", "169.254.169.254", "", "LOCALHOST"}) {
    EXPECT_TRUE(dial_addresses(other, "10.1.2.3").empty()) << other;
  }
}

TEST(MeshExemptSourceAddress, OnlyForThePodIp) {
  EXPECT_EQ(mesh_exempt_source_address("10.1.2.3", "10.1.2.3"), "127.0.0.6");
  EXPECT_EQ(mesh_exempt_source_address("fd00::7", "fd00:0::0007"), "::6");  // compared as addresses
  EXPECT_EQ(mesh_exempt_source_address("127.0.0.1", "10.1.2.3"),
            std::nullopt);  // loopback is not captured
  EXPECT_EQ(mesh_exempt_source_address("::1", "10.1.2.3"), std::nullopt);
  EXPECT_EQ(mesh_exempt_source_address("10.1.2.3", ""), std::nullopt);
  EXPECT_EQ(mesh_exempt_source_address("10.1.2.3", "10.1.2.4"), std::nullopt);
}

TEST(ProbeUrl, AuthorityBracketsIpv6) {
  EXPECT_EQ((ProbeUrl{"http", "::1", 80, "/"}).authority(), "[::1]:80");
  EXPECT_EQ((ProbeUrl{"http", "10.0.0.1", 8080, "/"}).authority(), "10.0.0.1:8080");
}

TEST(BuildProbeRequest, SendsWhatTheKubeletSendsByDefault) {
  const auto request =
      build_probe_request(state_for("10.1.2.3", 8080, "/healthz?x=1"), {}, "kube-probe/1.31");
  EXPECT_EQ(request.target, "/healthz?x=1");
  EXPECT_EQ(request.headers, (std::vector<HttpHeader>{{"Host", "10.1.2.3:8080"},
                                                      {"User-Agent", "kube-probe/1.31"},
                                                      {"Accept", "*/*"},
                                                      {"Connection", "close"}}));
}

TEST(BuildProbeRequest, StoredHeadersGoOutInOrderAndWin) {
  HttpProbeState state = state_for("127.0.0.1", 80, "/");
  state.host_header = "app.example";
  const std::vector<HttpHeader> stored{{"X-Custom", "a"},
                                       {"X-Custom", "b"},
                                       {"user-agent", "mine/1"},
                                       {"Accept", "application/json"},
                                       {"Host", "ignored"}};
  const auto request = build_probe_request(state, stored, "kube-probe/1.31");
  EXPECT_EQ(request.headers, (std::vector<HttpHeader>{{"Host", "app.example"},
                                                      {"X-Custom", "a"},
                                                      {"X-Custom", "b"},
                                                      {"user-agent", "mine/1"},
                                                      {"Accept", "application/json"},
                                                      {"Connection", "close"}}));
}

TEST(BuildProbeRequest, AStoredEmptyAcceptRemovesAccept) {
  const auto request = build_probe_request(state_for("127.0.0.1", 80, "/"), {{"Accept", ""}}, "");
  EXPECT_EQ(request.headers,
            (std::vector<HttpHeader>{{"Host", "127.0.0.1:80"}, {"Connection", "close"}}));
}

TEST(BuildProbeRequest, WithoutACallerUserAgentNoneIsInvented) {
  const auto request = build_probe_request(state_for("127.0.0.1", 80, "/"), {}, "");
  for (const auto& header : request.headers) EXPECT_NE(header.name, "User-Agent");
}

TEST(IsSafeHeader, RefusesWhatWouldSplitTheRequest) {
  EXPECT_TRUE(is_safe_header({"X-Token", "a b\tc"}));
  EXPECT_TRUE(is_safe_header({"X-Empty", ""}));
  EXPECT_FALSE(is_safe_header({"X-Evil", "a\r\nX-Injected: 1"}));
  EXPECT_FALSE(is_safe_header({"X-Evil", "a\nb"}));
  EXPECT_FALSE(is_safe_header({"X-Evil", std::string("a\0b", 3)}));
  EXPECT_FALSE(is_safe_header({"Bad Name", "x"}));
  EXPECT_FALSE(is_safe_header({"Bad:Name", "x"}));
  EXPECT_FALSE(is_safe_header({"", "x"}));
}

TEST(ResolveLocation, FollowsRfc3986) {
  const ProbeUrl base{"http", "127.0.0.1", 8080, "/a/b/c?q=1"};
  struct Case {
    const char* location;
    std::optional<ProbeUrl> expected;
  };
  const Case cases[] = {
      {"/x?y=2", ProbeUrl{"http", "127.0.0.1", 8080, "/x?y=2"}},
      {"d", ProbeUrl{"http", "127.0.0.1", 8080, "/a/b/d"}},
      {"../d", ProbeUrl{"http", "127.0.0.1", 8080, "/a/d"}},
      {"./", ProbeUrl{"http", "127.0.0.1", 8080, "/a/b/"}},
      {"?z", ProbeUrl{"http", "127.0.0.1", 8080, "/a/b/c?z"}},
      {"/x#fragment", ProbeUrl{"http", "127.0.0.1", 8080, "/x"}},
      {"//127.0.0.1:9090/y", ProbeUrl{"http", "127.0.0.1", 9090, "/y"}},
      {"https://127.0.0.1/secure", ProbeUrl{"https", "127.0.0.1", 443, "/secure"}},
      {"HTTP://LocalHost:81", ProbeUrl{"http", "localhost", 81, "/"}},
      {"http://[::1]:82/v6", ProbeUrl{"http", "::1", 82, "/v6"}},
      {"http://other.example/", ProbeUrl{"http", "other.example", 80, "/"}},
      {"ftp://127.0.0.1/", std::nullopt},
      {"http://user@127.0.0.1/", std::nullopt},
      {"http://127.0.0.1:99999/", std::nullopt},
      {"http://127.0.0.1:x/", std::nullopt},
      {"http:///nohost", std::nullopt},
      {"/with space", std::nullopt},
  };
  for (const auto& c : cases)
    EXPECT_EQ(resolve_location(base, c.location), c.expected) << c.location;
}

TEST(DecideRedirect, AnswersWhatIsNotARedirect) {
  const auto state = state_for("127.0.0.1", 80, "/");
  for (int status : {200, 204, 300, 304, 404, 500}) {
    EXPECT_EQ(decide_redirect(state, "127.0.0.1", status, "/elsewhere").kind, Kind::kAnswer)
        << status;
  }
  EXPECT_EQ(decide_redirect(state, "127.0.0.1", 302, std::nullopt).kind, Kind::kAnswer);
  EXPECT_EQ(decide_redirect(state, "127.0.0.1", 302, "").kind, Kind::kAnswer);
}

TEST(DecideRedirect, FollowsEveryRedirectStatusOnTheSameHost) {
  const auto state = state_for("127.0.0.1", 80, "/");
  for (int status : {301, 302, 303, 307, 308}) {
    const auto decision = decide_redirect(state, "127.0.0.1", status, "/next");
    ASSERT_EQ(decision.kind, Kind::kFollow) << status;
    EXPECT_EQ(decision.next.url, (ProbeUrl{"http", "127.0.0.1", 80, "/next"}));
    EXPECT_EQ(decision.next.requests_made, 1);
  }
}

TEST(DecideRedirect, SameHostNameOnAnotherPortOrSchemeIsFollowed) {
  const auto decision = decide_redirect(state_for("127.0.0.1", 80, "/"), "127.0.0.1", 301,
                                        "https://127.0.0.1:8443/tls");
  ASSERT_EQ(decision.kind, Kind::kFollow);
  EXPECT_EQ(decision.next.url, (ProbeUrl{"https", "127.0.0.1", 8443, "/tls"}));
}

TEST(DecideRedirect, AnotherHostIsNotFollowedAndTheRedirectIsTheAnswer) {
  const auto state = state_for("127.0.0.1", 80, "/");
  EXPECT_EQ(decide_redirect(state, "127.0.0.1", 302, "http://example.com/").kind, Kind::kAnswer);
  EXPECT_EQ(decide_redirect(state, "127.0.0.1", 302, "http://localhost/").kind, Kind::kAnswer);
  EXPECT_EQ(decide_redirect(state, "127.0.0.1", 302, "//10.0.0.9:80/").kind, Kind::kAnswer);
  EXPECT_TRUE(outcome_for_status(302).succeeded());
}

TEST(DecideRedirect, TheHostIsComparedWithTheFirstRequestsHost) {
  // After a same-host hop the comparison is still with the first host, as the kubelet's via[0].
  const auto decision =
      decide_redirect(state_for("localhost", 80, "/a", 3), "localhost", 302, "/b");
  EXPECT_EQ(decision.kind, Kind::kFollow);
}

TEST(DecideRedirect, TheTenthRedirectFails) {
  EXPECT_EQ(decide_redirect(state_for("127.0.0.1", 80, "/", 9), "127.0.0.1", 302, "/").kind,
            Kind::kFollow);
  const auto decision = decide_redirect(state_for("127.0.0.1", 80, "/", 10), "127.0.0.1", 302, "/");
  ASSERT_EQ(decision.kind, Kind::kFail);
  EXPECT_EQ(decision.failure.reason, FailureReason::kTooManyRedirects);
  EXPECT_EQ(decision.failure.status, 500);
}

TEST(DecideRedirect, AnUnusableLocationFails) {
  const auto decision =
      decide_redirect(state_for("127.0.0.1", 80, "/"), "127.0.0.1", 302, "gopher://127.0.0.1/");
  ASSERT_EQ(decision.kind, Kind::kFail);
  EXPECT_EQ(decision.failure.reason, FailureReason::kBadRedirect);
}

TEST(DecideRedirect, AStoredHostHeaderSurvivesRelativeRedirectsOnly) {
  HttpProbeState state = state_for("127.0.0.1", 80, "/");
  state.host_header = "app.example";
  EXPECT_EQ(decide_redirect(state, "127.0.0.1", 302, "/next").next.host_header, "app.example");
  EXPECT_EQ(decide_redirect(state, "127.0.0.1", 302, "http://127.0.0.1/next").next.host_header,
            std::nullopt);
}

TEST(OutcomeForStatus, TwoHundredsAsIsRedirectsAs200FailuresAsIs) {
  EXPECT_EQ(outcome_for_status(200).status, 200);
  EXPECT_EQ(outcome_for_status(204).status, 204);
  EXPECT_TRUE(outcome_for_status(204).succeeded());
  for (int status : {300, 301, 302, 304, 307, 399}) {
    EXPECT_EQ(outcome_for_status(status).status, 200) << status;
    EXPECT_TRUE(outcome_for_status(status).succeeded()) << status;
  }
  for (int status : {400, 404, 500, 503, 599}) {
    const auto outcome = outcome_for_status(status);
    EXPECT_EQ(outcome.status, status);
    EXPECT_EQ(outcome.reason, FailureReason::kStatusCode);
  }
  for (int status : {100, 199, 600, 999}) {
    const auto outcome = outcome_for_status(status);
    EXPECT_EQ(outcome.status, 500) << status;
    EXPECT_EQ(outcome.reason, FailureReason::kStatusCode);
  }
}

}  // namespace
}  // namespace meshprobe::agent
