#include "kube/health_server.h"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>

namespace meshprobe::kube {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

void HealthEndpoints::add_liveness_check(const std::string& name, HealthCheck check) {
  std::lock_guard lock(mutex_);
  liveness_[name] = std::move(check);
}

void HealthEndpoints::add_readiness_check(const std::string& name, HealthCheck check) {
  std::lock_guard lock(mutex_);
  readiness_[name] = std::move(check);
}

HealthResponse HealthEndpoints::run_checks(const std::map<std::string, HealthCheck>& checks,
                                           bool verbose) const {
  HealthResponse response;
  std::string details;
  bool healthy = true;
  for (const auto& [name, check] : checks) {
    if (auto problem = check()) {
      healthy = false;
      details += "[-]" + name + " failed: " + *problem + "\n";
    } else {
      details += "[+]" + name + " ok\n";
    }
  }
  response.status = healthy ? 200 : 500;
  if (healthy && !verbose) {
    response.body = "ok";
  } else {
    response.body = details + (healthy ? "check passed\n" : "check failed\n");
  }
  return response;
}

HealthResponse HealthEndpoints::respond(const std::string& method,
                                        const std::string& target) const {
  if (method != "GET" && method != "HEAD")
    return {405, "text/plain; charset=utf-8", "method not allowed\n"};
  const std::string path = target.substr(0, target.find('?'));
  const bool verbose = target.find("verbose") != std::string::npos;
  if (path == "/metrics") {
    return {200, "text/plain; version=0.0.4; charset=utf-8", metrics_.render()};
  }
  std::map<std::string, HealthCheck> checks;
  {
    std::lock_guard lock(mutex_);
    if (path == "/healthz" || path == "/livez")
      checks = liveness_;
    else if (path == "/readyz")
      checks = readiness_;
    else
      return {404, "text/plain; charset=utf-8", "not found\n"};
  }
  return run_checks(checks, verbose);
}

struct HealthServer::State {
  // First, so it outlives the sessions the io_context destroys with its pending handlers.
  std::atomic<std::size_t> connections{0};
  asio::io_context context{1};
  tcp::acceptor acceptor{context};
  std::thread thread;
};

namespace {

// One connection: read a request, answer, repeat while the client keeps it alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HealthEndpoints& endpoints, std::atomic<std::size_t>& connections,
          std::chrono::seconds timeout)
      : stream_(std::move(socket)),
        endpoints_(endpoints),
        connections_(connections),
        timeout_(timeout) {}
  ~Session() { --connections_; }

  void read() {
    parser_.emplace();
    parser_->header_limit(8 * 1024);
    parser_->body_limit(1024);
    stream_.expires_after(timeout_);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code error, std::size_t) {
                       self->on_read(error);
                     });
  }

 private:
  void on_read(beast::error_code error) {
    if (error) return;  // closed, timed out or malformed: drop the connection
    const auto& request = parser_->get();
    const HealthResponse answer =
        endpoints_.respond(std::string(request.method_string()), std::string(request.target()));
    response_ = {};
    response_.version(request.version());
    response_.result(static_cast<http::status>(answer.status));
    response_.set(http::field::content_type, answer.content_type);
    response_.keep_alive(request.keep_alive());
    response_.body() = request.method() == http::verb::head ? "" : answer.body;
    response_.prepare_payload();
    if (request.method() == http::verb::head) {
      response_.content_length(answer.body.size());
    }
    stream_.expires_after(timeout_);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code write_error, std::size_t) {
                        if (write_error || !self->response_.keep_alive()) {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                          return;
                        }
                        self->read();
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  HealthEndpoints& endpoints_;
  std::atomic<std::size_t>& connections_;
  std::chrono::seconds timeout_;
};

void accept(const std::shared_ptr<HealthServer::State>& state, HealthEndpoints& endpoints,
            HealthServerOptions options);

}  // namespace

HealthServer::HealthServer(HealthServerOptions options, HealthEndpoints& endpoints, Logger& logger)
    : options_(std::move(options)),
      endpoints_(endpoints),
      logger_(logger),
      state_(std::make_shared<State>()) {}

HealthServer::~HealthServer() { stop(); }

namespace {

void accept(const std::shared_ptr<HealthServer::State>& state, HealthEndpoints& endpoints,
            HealthServerOptions options) {
  // A weak reference: the pending handler lives inside the state's io_context, and a strong
  // one would keep that state alive forever.
  std::weak_ptr<HealthServer::State> weak = state;
  state->acceptor.async_accept(
      asio::make_strand(state->context),
      [weak, &endpoints, options](beast::error_code error, tcp::socket socket) {
        auto state = weak.lock();
        if (!state || error == asio::error::operation_aborted) return;  // stopping
        if (!error) {
          if (state->connections.load() >= options.maximum_connections) {
            beast::error_code ignored;
            socket.close(ignored);  // over the cap: refuse rather than queue
          } else {
            ++state->connections;
            std::make_shared<Session>(std::move(socket), endpoints, state->connections,
                                      options.request_timeout)
                ->read();
          }
        }
        accept(state, endpoints, options);
      });
}

}  // namespace

meshprobe::Result<std::uint16_t> HealthServer::start() {
  const std::string where = options_.address + ":" + std::to_string(options_.port);
  beast::error_code error;
  const auto address = asio::ip::make_address(options_.address, error);
  if (error) return meshprobe::Error{"health server: bad address " + options_.address};
  const tcp::endpoint endpoint(address, options_.port);
  state_->acceptor.open(endpoint.protocol(), error);
  if (!error) state_->acceptor.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) state_->acceptor.bind(endpoint, error);
  if (!error) state_->acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error)
    return meshprobe::Error{"health server: cannot listen on " + where + ": " + error.message()};
  const std::uint16_t port = state_->acceptor.local_endpoint().port();
  accept(state_, endpoints_, options_);
  state_->thread = std::thread([state = state_.get()] { state->context.run(); });
  logger_.info("health server listening on " + options_.address + ":" + std::to_string(port) +
               " (/healthz, /readyz, /metrics)");
  return port;
}

void HealthServer::stop() {
  if (!state_->thread.joinable()) return;
  // Stopping the context abandons every pending operation; the sessions' sockets close as
  // their handlers are destroyed with it.
  asio::post(state_->context, [state = state_.get()] {
    beast::error_code ignored;
    state->acceptor.close(ignored);
    state->context.stop();
  });
  state_->thread.join();
}

}  // namespace meshprobe::kube
