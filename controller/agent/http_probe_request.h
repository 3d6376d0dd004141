// The pure rules of an HTTP probe, as the kubelet applies them (k8s.io/kubernetes
// pkg/probe/http): which URL is asked, which headers go out, which redirects are followed,
// and what the application's status means. No I/O: asio_http_prober.cc does the talking.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/pod_address.h"
#include "agent/probe_outcome.h"
#include "probe/app_probers.h"

namespace meshprobe::agent {

struct ProbeUrl {
  std::string scheme;  // "http" or "https"
  std::string host;  // as written in the URL, without IPv6 brackets: "localhost", "10.1.2.3", "::1"
  int port = 0;
  std::string target;  // path and query, always starting with "/"

  std::string authority() const;  // "host:port", "[::1]:port"
  bool operator==(const ProbeUrl&) const = default;
};

// Where a probe goes and what it has followed so far. The Host header a probe stores is kept
// across relative redirects only, as Go's client does.
struct HttpProbeState {
  ProbeUrl url;
  std::optional<std::string> host_header;
  int requests_made = 0;
  bool operator==(const HttpProbeState&) const = default;
};

// The stored pod-local host, else POD_IP, else 127.0.0.1; the stored port, path and scheme.
HttpProbeState initial_probe_state(const probe::HttpGetAction& action, std::string_view pod_ip);

struct OutgoingRequest {
  std::string target;
  std::vector<probe::HttpHeader> headers;  // in the order they are written, Host first
  bool operator==(const OutgoingRequest&) const = default;
};

// The request the kubelet itself would send: Host, the stored headers, the caller's
// User-Agent unless a User-Agent is stored, "Accept: */*" unless an Accept is stored (a stored
// empty Accept removes it), "Connection: close". Nothing else from the caller.
OutgoingRequest build_probe_request(const HttpProbeState& state,
                                    const std::vector<probe::HttpHeader>& stored_headers,
                                    std::string_view caller_user_agent);

// A header the agent can write without letting it split into two: a token name and a value
// without CR, LF or NUL.
bool is_safe_header(const probe::HttpHeader& header);

struct RedirectDecision {
  enum class Kind {
    kAnswer,  // no redirect to follow: the response is the answer
    kFollow,  // ask `next`
    kFail,    // the probe fails with `failure`
  };
  Kind kind = Kind::kAnswer;
  HttpProbeState next;
  ProbeOutcome failure;
};

inline constexpr int kMaxProbeRequests = 10;

// The kubelet's redirect rules for a response with `status` after state.requests_made
// requests: 301/302/303/307/308 with a Location are followed when the Location's host name
// is the first request's (another host is not followed: the 3xx is the answer, a success);
// the tenth redirect fails the probe; so does a Location that cannot be parsed.
RedirectDecision decide_redirect(const HttpProbeState& state, std::string_view first_host,
                                 int status, std::optional<std::string_view> location);

// Resolves a Location header against the URL it answered (RFC 3986 section 5.2); nullopt when
// it is not an http(s) URL or not parsable.
std::optional<ProbeUrl> resolve_location(const ProbeUrl& base, std::string_view location);

// What the agent answers for the application's final status: 2xx as is, 3xx as 200 (success),
// 4xx and 5xx as is (failure); anything else is a failure answered with 500.
ProbeOutcome outcome_for_status(int status);

}  // namespace meshprobe::agent
