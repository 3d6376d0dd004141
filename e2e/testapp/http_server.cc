#include "http_server.h"

#include <chrono>
#include <iostream>

namespace meshprobe::e2e {

HttpResponse text_response(const HttpRequest& request, http::status status, std::string body) {
  HttpResponse response{status, request.version()};
  response.set(http::field::content_type, "text/plain");
  response.keep_alive(false);
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

Result<int> open_acceptor(asio::ip::tcp::acceptor& acceptor, int port) {
  const asio::ip::tcp::endpoint endpoint(asio::ip::address_v4::any(),
                                         static_cast<unsigned short>(port));
  boost::system::error_code error;
  acceptor.open(endpoint.protocol(), error);
  if (!error) acceptor.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    return Error{"cannot listen on port " + std::to_string(port) + ": " + error.message()};
  }
  return static_cast<int>(acceptor.local_endpoint().port());
}

Result<int> HttpServer::listen(int port) { return open_acceptor(acceptor_, port); }

void HttpServer::start() {
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
}

void HttpServer::stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

asio::awaitable<void> HttpServer::accept_loop() {
  while (acceptor_.is_open()) {
    boost::system::error_code error;
    auto socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, error));
    if (error == asio::error::operation_aborted) co_return;
    if (error) {
      std::cerr << "accept failed: " << error.message() << std::endl;
      continue;
    }
    if (connections_ >= kMaximumConnections) continue;  // the socket closes as it goes out of scope
    asio::co_spawn(acceptor_.get_executor(), serve(beast::tcp_stream(std::move(socket))),
                   asio::detached);
  }
}

asio::awaitable<void> HttpServer::serve(beast::tcp_stream stream) {
  ++connections_;
  beast::flat_buffer buffer;
  HttpRequest request;
  stream.expires_after(std::chrono::seconds(10));
  boost::system::error_code error;
  co_await http::async_read(stream, buffer, request,
                            asio::redirect_error(asio::use_awaitable, error));
  if (!error) {
    auto response = handler_(request);
    co_await http::async_write(stream, response, asio::redirect_error(asio::use_awaitable, error));
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, error);
  }
  --connections_;
}

}  // namespace meshprobe::e2e
