#include "agent/agent.h"

#include "agent/asio_http_prober.h"
#include "agent/asio_tcp_prober.h"
#include "agent/nghttp2_grpc_prober.h"

namespace meshprobe::agent {

ProberSet make_network_probers(const asio::any_io_executor& executor, Clock& clock,
                               const std::string& pod_ip, Logger& logger) {
  auto dialer = std::make_shared<ApplicationDialer>(pod_ip, logger);
  return ProberSet{std::make_unique<AsioHttpProber>(executor, clock, pod_ip, dialer),
                   std::make_unique<AsioTcpProber>(executor, clock, pod_ip, dialer),
                   std::make_unique<Nghttp2GrpcProber>(executor, clock, pod_ip, dialer)};
}

std::vector<std::string> Agent::paths_of(const probe::AppProbers& probers) {
  std::vector<std::string> paths;
  for (const auto& [path, _] : probers) paths.push_back(path);
  return paths;
}

Agent::Agent(asio::any_io_executor executor, AgentConfig config, ProberSet probers, Logger& logger,
             Clock& clock)
    : config_(std::move(config)),
      probers_(std::move(probers)),
      metrics_(paths_of(config_.probers)),
      handler_(config_.probers, Probers{*probers_.http, *probers_.tcp, *probers_.grpc}, metrics_,
               logger, clock),
      server_(std::move(executor), clock, handler_, metrics_, logger, config_.limits) {}

Result<int> Agent::start() {
  auto port = server_.listen(config_.address, config_.port);
  if (port) server_.start();
  return port;
}

}  // namespace meshprobe::agent
