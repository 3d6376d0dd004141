// HealthServer: the controller's small HTTP server for /healthz (liveness), /readyz
// (readiness: informers synced, leadership not required) and /metrics (Prometheus text), as
// kubebuilder's manager serves them (health on :8081). Boost.Beast on one thread: a few
// hundred kB instead of cpprestsdk's listener and its thread pool; a connection cap, a
// header size limit and a per-request timeout, so no caller can exhaust it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "kube/clock.h"
#include "kube/logger.h"
#include "kube/metrics.h"
#include "probe/result.h"

namespace meshprobe::kube {

// A check returns nullopt when healthy, or why not.
using HealthCheck = std::function<std::optional<std::string>()>;

struct HealthServerOptions {
  std::string address = "0.0.0.0";
  std::uint16_t port = 8081;  // 0: any free port (tests)
  std::size_t maximum_connections = 32;
  std::chrono::seconds request_timeout{5};
};

// The pure part: which status and body a request gets.
struct HealthResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HealthEndpoints {
 public:
  explicit HealthEndpoints(MetricsRegistry& metrics) : metrics_(metrics) {}
  void add_liveness_check(const std::string& name, HealthCheck check);
  void add_readiness_check(const std::string& name, HealthCheck check);
  // GET or HEAD of /healthz, /readyz, /metrics; "?verbose" lists every check as Kubernetes'
  // own endpoints do.
  HealthResponse respond(const std::string& method, const std::string& target) const;

 private:
  HealthResponse run_checks(const std::map<std::string, HealthCheck>& checks, bool verbose) const;

  MetricsRegistry& metrics_;
  mutable std::mutex mutex_;
  std::map<std::string, HealthCheck> liveness_;
  std::map<std::string, HealthCheck> readiness_;
};

class HealthServer {
 public:
  HealthServer(HealthServerOptions options, HealthEndpoints& endpoints, Logger& logger);
  ~HealthServer();
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  // Binds and starts serving; returns the bound port. An error names the address.
  meshprobe::Result<std::uint16_t> start();
  // Closes the listener and every connection, joins the thread.
  void stop();

  struct State;  // the io_context and its thread (health_server.cc)

 private:
  HealthServerOptions options_;
  HealthEndpoints& endpoints_;
  Logger& logger_;
  std::shared_ptr<State> state_;
};

}  // namespace meshprobe::kube
