#include "agent/nghttp2_grpc_prober.h"

#include <nghttp2/nghttp2.h>

#include <charconv>
#include <memory>

#include "agent/grpc_health_codec.h"
#include "agent/pod_address.h"

namespace meshprobe::agent {
namespace {

// One Health/Check call: the HTTP/2 session's callbacks fill it in.
struct HealthCall {
  std::int32_t stream_id = -1;
  std::string request_frame;
  std::size_t request_sent = 0;
  int http_status = 0;
  std::optional<int> grpc_status;
  std::string grpc_message;
  std::string body;
  bool body_too_large = false;
  bool closed = false;
  std::uint32_t close_error = 0;
};

int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
              std::size_t name_length, const std::uint8_t* value, std::size_t value_length,
              std::uint8_t, void* user_data) {
  auto& call = *static_cast<HealthCall*>(user_data);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->hd.stream_id != call.stream_id) return 0;
  const std::string_view header(reinterpret_cast<const char*>(name), name_length);
  const std::string_view text(reinterpret_cast<const char*>(value), value_length);
  auto to_int = [&](int& out) { std::from_chars(text.data(), text.data() + text.size(), out); };
  if (header == ":status") {
    to_int(call.http_status);
  } else if (header == "grpc-status") {
    int status = -1;
    to_int(status);
    call.grpc_status = status;
  } else if (header == "grpc-message") {
    call.grpc_message = std::string(text.substr(0, 200));
  }
  return 0;
}

int on_data_chunk(nghttp2_session*, std::uint8_t, std::int32_t stream_id, const std::uint8_t* data,
                  std::size_t length, void* user_data) {
  auto& call = *static_cast<HealthCall*>(user_data);
  if (stream_id != call.stream_id) return 0;
  if (call.body.size() + length > Nghttp2GrpcProber::kMaxResponseBodyBytes) {
    call.body_too_large = true;
    return 0;
  }
  call.body.append(reinterpret_cast<const char*>(data), length);
  return 0;
}

int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code,
                    void* user_data) {
  auto& call = *static_cast<HealthCall*>(user_data);
  if (stream_id != call.stream_id) return 0;
  call.closed = true;
  call.close_error = error_code;
  return 0;
}

ssize_t read_request_body(nghttp2_session*, std::int32_t, std::uint8_t* buffer, std::size_t length,
                          std::uint32_t* data_flags, nghttp2_data_source*, void* user_data) {
  auto& call = *static_cast<HealthCall*>(user_data);
  const std::size_t count = std::min(length, call.request_frame.size() - call.request_sent);
  std::copy_n(call.request_frame.data() + call.request_sent, count, buffer);
  call.request_sent += count;
  if (call.request_sent == call.request_frame.size()) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(count);
}

struct SessionDeleter {
  void operator()(nghttp2_session* session) const { nghttp2_session_del(session); }
};
using Session = std::unique_ptr<nghttp2_session, SessionDeleter>;

Session new_client_session(HealthCall& call) {
  nghttp2_session_callbacks* callbacks = nullptr;
  if (nghttp2_session_callbacks_new(&callbacks) != 0) return nullptr;
  nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
  nghttp2_session* session = nullptr;
  const int result = nghttp2_session_client_new(&session, callbacks, &call);
  nghttp2_session_callbacks_del(callbacks);
  return Session(result == 0 ? session : nullptr);
}

nghttp2_nv header(std::string_view name, std::string_view value) {
  return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
          value.size(), NGHTTP2_NV_FLAG_NONE};
}

ProbeOutcome outcome_of(const HealthCall& call, const std::string& service) {
  auto protocol_error = [](std::string detail) {
    return ProbeOutcome::failure(FailureReason::kProtocolError, std::move(detail));
  };
  if (call.close_error != NGHTTP2_NO_ERROR) {
    return protocol_error(std::string("the application reset the stream: ") +
                          nghttp2_http2_strerror(call.close_error));
  }
  if (call.http_status != 200)
    return protocol_error("HTTP/2 status " + std::to_string(call.http_status) +
                          ", not a gRPC answer");
  if (!call.grpc_status) return protocol_error("the answer carries no grpc-status");
  if (*call.grpc_status != 0) {
    std::string detail = "gRPC status " + std::to_string(*call.grpc_status);
    if (*call.grpc_status == 12)
      detail += " (UNIMPLEMENTED: the application has no grpc.health.v1 service)";
    if (!call.grpc_message.empty()) detail += ": " + call.grpc_message;
    return ProbeOutcome::failure(FailureReason::kGrpcStatus, detail);
  }
  if (call.body_too_large)
    return protocol_error("the health answer is larger than a health answer can be");
  auto status = decode_health_check_response(call.body);
  if (!status) return protocol_error(status.error().message);
  if (*status != ServingStatus::kServing) {
    return ProbeOutcome::failure(
        FailureReason::kNotServing,
        "service \"" + service + "\" is " + std::string(serving_status_name(*status)));
  }
  return ProbeOutcome::success();
}

asio::awaitable<ProbeOutcome> check_health(Clock& clock, ApplicationDialer& dialer,
                                           std::string address, int port, std::string service,
                                           std::chrono::seconds timeout, std::string user_agent) {
  asio::ip::tcp::socket socket(co_await asio::this_coro::executor);
  ConnectionDeadline deadline(clock, socket);
  deadline.expires_after(timeout);  // covers the whole call
  const std::vector<std::string> addresses{address};
  const DialResult dialed = co_await dialer.connect(socket, deadline, addresses, port);
  error_code error = dialed.error;
  if (error)
    co_return ProbeOutcome::failure(reason_for(error),
                                    describe_failure("connect to", address, port, error));

  HealthCall call;
  call.request_frame = encode_health_check_request(service);
  Session session = new_client_session(call);
  if (!session)
    co_return ProbeOutcome::failure(FailureReason::kConnectionError, "the agent ran out of memory");
  const std::string authority =
      (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" +
      std::to_string(port);
  const std::string grpc_timeout = std::to_string(std::chrono::milliseconds(timeout).count()) + "m";
  if (user_agent.empty()) user_agent = "meshprobe-agent";
  // nghttp2_nv points into these strings: every one outlives nghttp2_submit_request.
  const nghttp2_nv headers[] = {
      header(":method", "POST"),
      header(":scheme", "http"),
      header(":path", kGrpcHealthCheckPath),
      header(":authority", authority),
      header("content-type", "application/grpc"),
      header("te", "trailers"),
      header("grpc-timeout", grpc_timeout),
      header("user-agent", user_agent),
  };
  nghttp2_data_provider body{};
  body.read_callback = read_request_body;
  nghttp2_submit_settings(session.get(), NGHTTP2_FLAG_NONE, nullptr, 0);
  call.stream_id =
      nghttp2_submit_request(session.get(), nullptr, headers, std::size(headers), &body, nullptr);
  if (call.stream_id < 0)
    co_return ProbeOutcome::failure(FailureReason::kProtocolError,
                                    nghttp2_strerror(call.stream_id));

  std::string outgoing;
  std::array<char, 4096> incoming;
  for (;;) {
    for (;;) {
      const std::uint8_t* data = nullptr;
      const auto length = nghttp2_session_mem_send(session.get(), &data);
      if (length < 0)
        co_return ProbeOutcome::failure(FailureReason::kProtocolError,
                                        nghttp2_strerror(static_cast<int>(length)));
      if (length == 0) break;
      outgoing.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(length));
    }
    if (!outgoing.empty()) {
      co_await asio::async_write(socket, asio::buffer(outgoing), await_error(error));
      error = deadline.error_for(error);
      if (error)
        co_return ProbeOutcome::failure(reason_for(error),
                                        describe_failure("send to", address, port, error));
      outgoing.clear();
    }
    if (call.closed) co_return outcome_of(call, service);
    if (!nghttp2_session_want_read(session.get())) {
      co_return ProbeOutcome::failure(FailureReason::kProtocolError,
                                      "the application ended the HTTP/2 session");
    }
    const std::size_t received =
        co_await socket.async_read_some(asio::buffer(incoming), await_error(error));
    error = deadline.error_for(error);
    if (error)
      co_return ProbeOutcome::failure(reason_for(error),
                                      describe_failure("read the answer of", address, port, error));
    const auto consumed = nghttp2_session_mem_recv(
        session.get(), reinterpret_cast<const std::uint8_t*>(incoming.data()), received);
    if (consumed < 0)
      co_return ProbeOutcome::failure(FailureReason::kProtocolError,
                                      nghttp2_strerror(static_cast<int>(consumed)));
  }
}

}  // namespace

void Nghttp2GrpcProber::probe(const probe::GrpcAction& action, std::chrono::seconds timeout,
                              std::string user_agent, ProbeCallback done) {
  // The kubelet's gRPC probe has no host: it asks the pod IP.
  const std::string address = dial_addresses(probe_host("", pod_ip_), pod_ip_).front();
  spawn_probe(executor_,
              check_health(clock_, *dialer_, address, action.port, action.service.value_or(""),
                           timeout, std::move(user_agent)),
              std::move(done));
}

}  // namespace meshprobe::agent
