// The agent, wired: probers, metrics, the request handler and the server on one executor.
// main() builds it from the configuration; loopback tests build the same thing.
#pragma once

#include "agent/agent_config.h"
#include "agent/agent_server.h"
#include "agent/asio.h"
#include "agent/clock.h"
#include "agent/logger.h"
#include "agent/metrics.h"
#include "agent/probe_request_handler.h"
#include "agent/probers.h"

namespace meshprobe::agent {

struct ProberSet {
  HttpProberPtr http;
  TcpProberPtr tcp;
  GrpcProberPtr grpc;
};

// The probers that talk to the application over the network, on `executor`, their timeouts on
// `clock`; `logger` hears once when connections to the pod IP cannot come from the source the
// mesh lets through.
ProberSet make_network_probers(const asio::any_io_executor& executor, Clock& clock,
                               const std::string& pod_ip, Logger& logger);

class Agent {
 public:
  // The executor must run on one thread: nothing inside the agent is locked. `clock` runs its
  // timers on that executor.
  Agent(asio::any_io_executor executor, AgentConfig config, ProberSet probers, Logger& logger,
        Clock& clock);

  Result<int> start();  // listens and serves; returns the bound port
  // Stops serving; the event loop runs out once the probes in flight have been answered.
  void stop() { server_.stop(); }

 private:
  static std::vector<std::string> paths_of(const probe::AppProbers& probers);

  AgentConfig config_;
  ProberSet probers_;
  AgentMetrics metrics_;
  ProbeRequestHandler handler_;
  AgentServer server_;
};

}  // namespace meshprobe::agent
