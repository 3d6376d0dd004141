// The agent's HTTP/1.1 server: one io_context, one coroutine per connection. A caller gets
// `header_read_timeout` to send a request's headers (from accept, and between keep-alive
// requests), at most `max_header_bytes` of them, no body; beyond `max_connections` open
// connections a new one is closed at once. A slow probe holds only its own connection. Every
// timeout is on the agent's Clock.
#pragma once

#include <map>

#include "agent/agent_config.h"
#include "agent/asio.h"
#include "agent/clock.h"
#include "agent/logger.h"
#include "agent/metrics.h"
#include "agent/request_handler.h"
#include "probe/result.h"

namespace meshprobe::agent {

class AgentServer {
 public:
  static constexpr std::chrono::seconds kWriteTimeout{10};
  // After a failed accept (out of file descriptors, say), before the next one.
  static constexpr std::chrono::milliseconds kAcceptRetryPause{100};

  AgentServer(asio::any_io_executor executor, Clock& clock, RequestHandler& handler,
              AgentMetrics& metrics, Logger& logger, ServerLimits limits)
      : executor_(std::move(executor)),
        clock_(clock),
        handler_(handler),
        metrics_(metrics),
        logger_(logger),
        limits_(limits),
        acceptor_(executor_) {}

  // Binds and listens; `address` empty means every address (dual-stack "::", else 0.0.0.0).
  // Returns the bound port (useful with port 0).
  Result<int> listen(const std::string& address, int port);
  void start();  // accepts until stop()
  // Stops accepting and closes the callers' idle connections; a connection whose probe is in
  // flight gets its answer (within the probe's timeout), then closes.
  void stop();

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(asio::ip::tcp::socket socket);
  asio::awaitable<Reply> answer(const IncomingRequest& request);
  Result<int> listen_on(const asio::ip::address& address, int port);

  asio::any_io_executor executor_;
  Clock& clock_;
  RequestHandler& handler_;
  AgentMetrics& metrics_;
  Logger& logger_;
  ServerLimits limits_;
  asio::ip::tcp::acceptor acceptor_;
  // Open connections: answering a probe or not.
  std::map<asio::ip::tcp::socket*, bool> connections_;
  bool stopped_ = false;
};

}  // namespace meshprobe::agent
