// A minimal HTTP/1.1 server for the end-to-end test programs: one request per connection (as
// the kubelet's probes make them), a read deadline and a connection cap, on one io_context.
#pragma once

// <utility> first: Boost 1.74's awaitable.hpp uses std::exchange without including it.
// clang-format off
#include <utility>
// clang-format on
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <cstddef>
#include <functional>
#include <string>

#include "probe/result.h"

namespace meshprobe::e2e {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// A plain-text response with the request's HTTP version.
HttpResponse text_response(const HttpRequest& request, http::status status, std::string body);

class HttpServer {
 public:
  HttpServer(asio::io_context& context, HttpHandler handler)
      : acceptor_(context), handler_(std::move(handler)) {}

  // Listens on every IPv4 address of the pod (port 0: any free port); returns the port.
  Result<int> listen(int port);
  void start();
  void stop();

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(beast::tcp_stream stream);

  static constexpr std::size_t kMaximumConnections = 64;
  asio::ip::tcp::acceptor acceptor_;
  HttpHandler handler_;
  std::size_t connections_ = 0;
};

// Listens on address:port with SO_REUSEADDR (a test program restarts on its own port).
Result<int> open_acceptor(asio::ip::tcp::acceptor& acceptor, int port);

}  // namespace meshprobe::e2e
