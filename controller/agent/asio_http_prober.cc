#include "agent/asio_http_prober.h"

#include <openssl/ssl.h>

#include "agent/http_probe_request.h"

namespace meshprobe::agent {
namespace {

using Deadline = std::chrono::steady_clock::time_point;

struct ResponseHead {
  std::optional<ProbeOutcome> failure;  // set when no response head came back
  int status = 0;
  std::optional<std::string> location;
};

struct Target {
  std::vector<std::string> addresses;  // what is dialed, in order (dial_addresses)
  int port = 0;
  std::string host_name;  // the URL's host, for SNI
};

// `address` and `port` name the application in failures.
template <typename Stream>
asio::awaitable<ResponseHead> exchange(Stream& stream, const std::string& address, int port,
                                       const OutgoingRequest& outgoing) {
  ResponseHead head;
  error_code error;
  http::request<http::empty_body> request{http::verb::get, outgoing.target, 11};
  for (const auto& header : outgoing.headers) request.insert(header.name, header.value);
  co_await http::async_write(stream, request, await_error(error));
  if (error) {
    head.failure =
        ProbeOutcome::failure(reason_for(error), describe_failure("send to", address, port, error));
    co_return head;
  }
  beast::flat_buffer buffer(AsioHttpProber::kMaxResponseHeaderBytes + 1024);
  http::response_parser<http::empty_body> parser;
  parser.header_limit(AsioHttpProber::kMaxResponseHeaderBytes);
  co_await http::async_read_header(stream, buffer, parser, await_error(error));
  if (error) {
    const bool protocol =
        error.category() == http::make_error_code(http::error::bad_version).category();
    head.failure =
        ProbeOutcome::failure(protocol ? FailureReason::kProtocolError : reason_for(error),
                              describe_failure("read the answer of", address, port, error));
    co_return head;
  }
  head.status = static_cast<int>(parser.get().result_int());
  if (auto it = parser.get().find(http::field::location); it != parser.get().end()) {
    head.location = std::string(it->value());
  }
  co_return head;
}

asio::awaitable<ResponseHead> request_once(const std::function<asio::ssl::context&()>& tls,
                                           ApplicationDialer& dialer, const Target& target,
                                           bool https, const OutgoingRequest& outgoing,
                                           Deadline deadline) {
  auto executor = co_await asio::this_coro::executor;
  ResponseHead head;
  auto connect_failure = [&](const DialResult& dialed, const error_code& error) {
    return ProbeOutcome::failure(
        reason_for(error), describe_failure("connect to", dialed.address, target.port, error));
  };
  if (!https) {
    beast::tcp_stream stream(executor);
    stream.expires_at(deadline);  // covers connect, write and read together
    const DialResult dialed = co_await dialer.connect(stream, target.addresses, target.port);
    if (dialed.error) {
      head.failure = connect_failure(dialed, dialed.error);
      co_return head;
    }
    co_return co_await exchange(stream, dialed.address, target.port, outgoing);
  }
  beast::ssl_stream<beast::tcp_stream> stream(executor, tls());
  beast::get_lowest_layer(stream).expires_at(deadline);
  error_code not_an_address;
  asio::ip::make_address(target.host_name, not_an_address);
  if (not_an_address)
    SSL_set_tlsext_host_name(stream.native_handle(),
                             target.host_name.c_str());  // SNI for names only, as Go
  const DialResult dialed =
      co_await dialer.connect(beast::get_lowest_layer(stream), target.addresses, target.port);
  error_code error = dialed.error;
  if (!error) co_await stream.async_handshake(asio::ssl::stream_base::client, await_error(error));
  if (error) {
    head.failure = connect_failure(dialed, error);
    co_return head;
  }
  co_return co_await exchange(stream, dialed.address, target.port, outgoing);
}

asio::awaitable<ProbeOutcome> probe_http(std::function<asio::ssl::context&()> tls,
                                         ApplicationDialer& dialer, probe::HttpGetAction action,
                                         std::string pod_ip, std::chrono::seconds timeout,
                                         std::string user_agent) {
  const Deadline deadline = std::chrono::steady_clock::now() + timeout;
  HttpProbeState state = initial_probe_state(action, pod_ip);
  const std::string first_host = state.url.host;
  for (;;) {
    auto addresses = dial_addresses(state.url.host, pod_ip);
    if (addresses.empty()) {  // redirects never leave the first host, and that one was validated at
                              // start
      co_return ProbeOutcome::failure(FailureReason::kConnectionError,
                                      "host \"" + state.url.host + "\" is not the pod's own");
    }
    ++state.requests_made;
    const Target target{std::move(addresses), state.url.port, state.url.host};
    const auto head =
        co_await request_once(tls, dialer, target, state.url.scheme == "https",
                              build_probe_request(state, action.headers, user_agent), deadline);
    if (head.failure) co_return *head.failure;
    auto decision = decide_redirect(state, first_host, head.status, head.location);
    switch (decision.kind) {
      case RedirectDecision::Kind::kAnswer:
        co_return outcome_for_status(head.status);
      case RedirectDecision::Kind::kFail:
        co_return decision.failure;
      case RedirectDecision::Kind::kFollow:
        state = std::move(decision.next);
        break;
    }
  }
}

}  // namespace

AsioHttpProber::AsioHttpProber(asio::any_io_executor executor, std::string pod_ip,
                               ApplicationDialerPtr dialer)
    : executor_(std::move(executor)), pod_ip_(std::move(pod_ip)), dialer_(std::move(dialer)) {}

asio::ssl::context& AsioHttpProber::tls() {
  if (!tls_) {
    tls_.emplace(asio::ssl::context::tls_client);
    tls_->set_verify_mode(asio::ssl::verify_none);
  }
  return *tls_;
}

void AsioHttpProber::probe(const probe::HttpGetAction& action, std::chrono::seconds timeout,
                           std::string user_agent, ProbeCallback done) {
  spawn_probe(executor_,
              probe_http([this]() -> asio::ssl::context& { return tls(); }, *dialer_, action,
                         pod_ip_, timeout, std::move(user_agent)),
              std::move(done));
}

}  // namespace meshprobe::agent
