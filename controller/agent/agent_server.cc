#include "agent/agent_server.h"

#include "agent/deadline.h"

namespace meshprobe::agent {
namespace {

// Registers a connection with the server for as long as it is served.
class RegisteredConnection {
 public:
  RegisteredConnection(std::map<asio::ip::tcp::socket*, bool>& connections,
                       asio::ip::tcp::socket& socket, AgentMetrics& metrics)
      : connections_(connections), socket_(socket), metrics_(metrics) {
    connections_[&socket_] = false;
    metrics_.connection_opened();
  }
  ~RegisteredConnection() {
    connections_.erase(&socket_);
    metrics_.connection_closed();
  }
  void set_answering(bool answering) { connections_[&socket_] = answering; }

 private:
  std::map<asio::ip::tcp::socket*, bool>& connections_;
  asio::ip::tcp::socket& socket_;
  AgentMetrics& metrics_;
};

http::response<http::string_body> to_response(const Reply& reply, bool keep_alive) {
  http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
  if (!reply.content_type.empty()) response.set(http::field::content_type, reply.content_type);
  response.body() = reply.body;
  response.keep_alive(keep_alive);
  response.prepare_payload();
  return response;
}

}  // namespace

Result<int> AgentServer::listen_on(const asio::ip::address& address, int port) {
  error_code error;
  const asio::ip::tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  acceptor_.open(endpoint.protocol(), error);
  if (!error) acceptor_.set_option(asio::socket_base::reuse_address(true), error);
  if (!error && address.is_v6() && address.is_unspecified())
    acceptor_.set_option(asio::ip::v6_only(false), error);
  if (!error) acceptor_.bind(endpoint, error);
  if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    error_code ignored;
    acceptor_.close(ignored);
    return Error{"cannot listen on " + endpoint.address().to_string() + " port " +
                 std::to_string(port) + ": " + error.message()};
  }
  return static_cast<int>(acceptor_.local_endpoint().port());
}

Result<int> AgentServer::listen(const std::string& address, int port) {
  if (!address.empty()) return listen_on(asio::ip::make_address(address), port);
  auto dual_stack = listen_on(asio::ip::address_v6::any(), port);
  if (dual_stack) return dual_stack;
  return listen_on(asio::ip::address_v4::any(), port);  // a pod without IPv6
}

void AgentServer::start() { asio::co_spawn(executor_, accept_loop(), asio::detached); }

void AgentServer::stop() {
  stopped_ = true;
  error_code ignored;
  acceptor_.close(ignored);
  for (auto& [socket, answering] : connections_) {
    if (!answering) socket->close(ignored);  // the others close once answered
  }
}

asio::awaitable<void> AgentServer::accept_loop() {
  while (!stopped_) {
    error_code error;
    auto socket = co_await acceptor_.async_accept(await_error(error));
    if (error == asio::error::operation_aborted || stopped_) co_return;
    if (error) {
      // EMFILE and the like: say so, and keep serving the connections that are open.
      logger_.log(LogLevel::kError, "accept failed", {{"error", error.message()}});
      co_await wait_for(clock_, kAcceptRetryPause);
      continue;
    }
    if (connections_.size() >= limits_.max_connections) {
      metrics_.record_rejection(Rejection::kConnectionCap);
      socket.close(error);
      continue;
    }
    asio::co_spawn(executor_, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<Reply> AgentServer::answer(const IncomingRequest& request) {
  // The handler answers through a callback, maybe before handle() returns; posting the
  // completion resumes this coroutine from the event loop, never from inside handle().
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(Reply)>(
      [this, &request](auto completion) {
        auto shared = std::make_shared<decltype(completion)>(std::move(completion));
        handler_.handle(request, [executor = executor_, shared](Reply reply) {
          asio::post(executor,
                     [shared, reply = std::move(reply)]() mutable { (*shared)(std::move(reply)); });
        });
      },
      asio::use_awaitable);
}

asio::awaitable<void> AgentServer::serve(asio::ip::tcp::socket socket) {
  RegisteredConnection registered(connections_, socket, metrics_);
  ConnectionDeadline deadline(clock_, socket);
  beast::flat_buffer buffer(limits_.max_header_bytes + 1);
  error_code error;
  for (;;) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
    deadline.expires_after(limits_.header_read_timeout);
    co_await http::async_read(socket, buffer, parser, await_error(error));
    error = deadline.error_for(error);
    if (error) {
      if (error == http::error::end_of_stream || stopped_) break;
      if (error == beast::error::timeout) {
        metrics_.record_rejection(Rejection::kHeaderTimeout);
        break;  // as Go's server: a caller too slow to send its headers is dropped
      }
      const bool too_large =
          error == http::error::header_limit || error == http::error::buffer_overflow;
      const bool malformed =
          error.category() == http::make_error_code(http::error::bad_target).category();
      if (!too_large && !malformed) break;  // reset or closed by the caller
      metrics_.record_rejection(too_large ? Rejection::kHeaderTooLarge : Rejection::kBadRequest);
      deadline.expires_after(kWriteTimeout);
      auto response = to_response(Reply{too_large ? 431 : 400, {}, {}}, false);
      co_await http::async_write(socket, response, await_error(error));
      break;
    }
    const auto& message = parser.get();
    IncomingRequest request{std::string(message.method_string()), std::string(message.target()),
                            std::string(message[http::field::user_agent])};
    bool keep_alive = message.keep_alive();
    deadline.expires_never();  // the probe has its own timeout
    registered.set_answering(true);
    const Reply reply = co_await answer(request);
    keep_alive = keep_alive && !stopped_;
    deadline.expires_after(kWriteTimeout);
    auto response = to_response(reply, keep_alive);
    co_await http::async_write(socket, response, await_error(error));
    registered.set_answering(false);
    if (error || !keep_alive) break;
  }
  socket.shutdown(asio::ip::tcp::socket::shutdown_send, error);
}

}  // namespace meshprobe::agent
