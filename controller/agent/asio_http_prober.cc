#include "agent/asio_http_prober.h"

#include <openssl/ssl.h>

#include "agent/http_probe_request.h"

namespace meshprobe::agent {
namespace {

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
asio::awaitable<ResponseHead> exchange(Stream& stream, const ConnectionDeadline& deadline,
                                       const std::string& address, int port,
                                       const OutgoingRequest& outgoing) {
  ResponseHead head;
  error_code error;
  http::request<http::empty_body> request{http::verb::get, outgoing.target, 11};
  for (const auto& header : outgoing.headers) request.insert(header.name, header.value);
  co_await http::async_write(stream, request, await_error(error));
  error = deadline.error_for(error);
  if (error) {
    head.failure =
        ProbeOutcome::failure(reason_for(error), describe_failure("send to", address, port, error));
    co_return head;
  }
  beast::flat_buffer buffer(AsioHttpProber::kMaxResponseHeaderBytes + 1024);
  http::response_parser<http::empty_body> parser;
  parser.header_limit(AsioHttpProber::kMaxResponseHeaderBytes);
  co_await http::async_read_header(stream, buffer, parser, await_error(error));
  error = deadline.error_for(error);
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
                                           Clock& clock, ApplicationDialer& dialer,
                                           const Target& target, bool https,
                                           const OutgoingRequest& outgoing, MonotonicTime until) {
  auto executor = co_await asio::this_coro::executor;
  ResponseHead head;
  auto connect_failure = [&](const DialResult& dialed, const error_code& error) {
    return ProbeOutcome::failure(
        reason_for(error), describe_failure("connect to", dialed.address, target.port, error));
  };
  if (!https) {
    asio::ip::tcp::socket socket(executor);
    ConnectionDeadline deadline(clock, socket);
    deadline.expires_at(until);  // covers connect, write and read together
    const DialResult dialed =
        co_await dialer.connect(socket, deadline, target.addresses, target.port);
    if (dialed.error) {
      head.failure = connect_failure(dialed, dialed.error);
      co_return head;
    }
    co_return co_await exchange(socket, deadline, dialed.address, target.port, outgoing);
  }
  beast::ssl_stream<asio::ip::tcp::socket> stream(executor, tls());
  ConnectionDeadline deadline(clock, stream.next_layer());
  deadline.expires_at(until);
  error_code not_an_address;
  asio::ip::make_address(target.host_name, not_an_address);
  if (not_an_address)
    SSL_set_tlsext_host_name(stream.native_handle(),
                             target.host_name.c_str());  // SNI for names only, as Go
  const DialResult dialed =
      co_await dialer.connect(stream.next_layer(), deadline, target.addresses, target.port);
  error_code error = dialed.error;
  if (!error) {
    co_await stream.async_handshake(asio::ssl::stream_base::client, await_error(error));
    error = deadline.error_for(error);
  }
  if (error) {
    head.failure = connect_failure(dialed, error);
    co_return head;
  }
  co_return co_await exchange(stream, deadline, dialed.address, target.port, outgoing);
}

asio::awaitable<ProbeOutcome> probe_http(std::function<asio::ssl::context&()> tls, Clock& clock,
                                         ApplicationDialer& dialer, probe::HttpGetAction action,
                                         std::string pod_ip, std::chrono::seconds timeout,
                                         std::string user_agent) {
  const MonotonicTime until = clock.now() + timeout;  // one deadline for every redirect
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
        co_await request_once(tls, clock, dialer, target, state.url.scheme == "https",
                              build_probe_request(state, action.headers, user_agent), until);
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

AsioHttpProber::AsioHttpProber(asio::any_io_executor executor, Clock& clock, std::string pod_ip,
                               ApplicationDialerPtr dialer)
    : executor_(std::move(executor)),
      clock_(clock),
      pod_ip_(std::move(pod_ip)),
      dialer_(std::move(dialer)) {}

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
              probe_http([this]() -> asio::ssl::context& { return tls(); }, clock_, *dialer_,
                         action, pod_ip_, timeout, std::move(user_agent)),
              std::move(done));
}

}  // namespace meshprobe::agent
