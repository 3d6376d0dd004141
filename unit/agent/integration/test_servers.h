// Real servers for the agent's loopback tests: an HTTP(S) application whose answers the test
// scripts and whose requests it records, a TCP listener, a gRPC health server (gRPC's own C++
// library), and the agent itself on its own event loop, its time on a FakeClock.
#pragma once

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "agent/agent.h"
#include "agent/asio.h"
#include "agent/mocks/fake_clock.h"

namespace meshprobe::agent::testing {

struct RecordedRequest {
  std::string target;
  std::vector<probe::HttpHeader> headers;
  std::string header(std::string_view name) const;  // "" when absent
};

struct Route {
  int status = 200;
  std::vector<probe::HttpHeader> headers;
  std::string body;
  std::chrono::milliseconds delay{0};  // real time: the application is slow
};

// An application on 127.0.0.1 (or ::1), plain or TLS with a self-signed certificate made for
// the test. Routes are matched on the target's path; unknown paths answer 404.
class TestHttpApp {
 public:
  enum class Tls { kOff, kSelfSigned };
  explicit TestHttpApp(Tls tls = Tls::kOff, const std::string& address = "127.0.0.1");
  ~TestHttpApp();

  int port() const { return port_; }
  void route(const std::string& path, Route route);
  std::vector<RecordedRequest> requests() const;
  std::size_t request_count(const std::string& target) const;
  // Blocks until `target` has been asked `count` times; false after 10 s.
  bool wait_for_requests(const std::string& target, std::size_t count = 1) const;
  // The source address of every connection accepted, in order (whatever came over it).
  std::vector<std::string> peers() const;

 private:
  asio::awaitable<void> accept_loop();
  template <typename Stream>
  asio::awaitable<void> serve(Stream& stream);
  asio::awaitable<void> serve_connection(asio::ip::tcp::socket socket);

  asio::io_context io_{1};
  asio::ssl::context tls_{asio::ssl::context::tls_server};
  bool use_tls_;
  asio::ip::tcp::acceptor acceptor_{io_};
  int port_ = 0;
  mutable std::mutex mutex_;
  mutable std::condition_variable request_recorded_;
  std::map<std::string, Route> routes_;
  std::vector<RecordedRequest> requests_;
  std::vector<std::string> peers_;
  std::thread thread_;
};

// A port with a listener (the kernel completes handshakes from its backlog), or none.
class TestTcpListener {
 public:
  explicit TestTcpListener(const std::string& address = "127.0.0.1", int port = 0);
  int port() const { return port_; }

 private:
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_{io_};
  int port_ = 0;
};

// A port nothing listens on (bound once, then released).
int unused_port();

// grpc.health.v1 from gRPC's own library: `serving` maps service names to SERVING or not;
// "" is the server as a whole and is SERVING.
class TestGrpcHealthServer {
 public:
  explicit TestGrpcHealthServer(const std::map<std::string, bool>& serving);
  ~TestGrpcHealthServer();
  int port() const { return port_; }

 private:
  // Any other method answers UNIMPLEMENTED; a server needs one service besides the health one.
  grpc::CallbackGenericService other_methods_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

struct HttpAnswer {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
};

// One GET on a new connection, as the kubelet asks.
HttpAnswer http_get(int port, const std::string& target,
                    const std::vector<probe::HttpHeader>& headers = {},
                    const std::string& address = "127.0.0.1");

// The agent on its own thread, listening on 127.0.0.1 at a free port, logging text to a buffer.
// Its time stands still until the test advances it: no timeout fires on its own.
class TestAgent {
 public:
  explicit TestAgent(AgentConfig config);
  ~TestAgent();

  int port() const { return port_; }
  void stop();  // as on SIGTERM
  // Moves the agent's clock forward on its event loop, firing the deadlines that come due, and
  // returns once they have run.
  void advance_time(Duration by);
  // Blocks until the agent has exactly `count` deadlines armed (one per connection waiting
  // for a request's headers, one per probe in flight); false after 10 s.
  bool wait_for_deadlines(std::size_t count) const { return clock_.wait_for_pending_timers(count); }
  // Blocks until a deadline `from_now` away is armed (a probe's timeout, say); false after 10 s.
  bool wait_for_deadline_in(Duration from_now) const {
    return clock_.wait_for_timer_at(clock_.now() + from_now);
  }
  std::vector<std::string> log_lines() const { return logger_.lines(); }
  std::string metrics() { return http_get(port_, "/metrics").body; }

 private:
  // Text lines, kept for the test thread to read.
  class RecordingLogger final : public Logger {
   public:
    explicit RecordingLogger(const Clock& clock) : clock_(clock) {}
    void log(LogLevel level, std::string_view message,
             const std::vector<LogField>& fields) override;
    std::vector<std::string> lines() const;

   private:
    const Clock& clock_;
    mutable std::mutex mutex_;
    std::vector<std::string> lines_;
  };

  asio::io_context io_{1};
  FakeClock clock_;
  RecordingLogger logger_{clock_};
  std::unique_ptr<Agent> agent_;
  int port_ = 0;
  std::thread thread_;
};

// A child process, sent SIGTERM and reaped when this goes away.
class ChildProcess {
 public:
  // `environment` entries are NAME=value; the child gets these only.
  ChildProcess(std::vector<std::string> arguments, std::vector<std::string> environment);
  ~ChildProcess();
  bool started() const { return pid_ > 0; }
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
};

struct CommandOutput {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command and waits for it.
CommandOutput run_command(const std::string& command);

// The sanitizer settings of this process, for a child that is built the same way.
std::vector<std::string> sanitizer_environment();

AgentConfig agent_config(probe::AppProbers probers, std::string pod_ip = "");

}  // namespace meshprobe::agent::testing
