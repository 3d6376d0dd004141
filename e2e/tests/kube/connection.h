// What every kube end-to-end test needs: the real client runtime (cpprestsdk transport,
// RestClient) connected with a kubeconfig, as the controller's main() wires it.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "kube/clock.h"
#include "kube/config.h"
#include "kube/logger.h"
#include "kube/metrics.h"
#include "kube/random.h"
#include "kube/rest_client.h"
#include "kube/transport_cpprest.h"
#include "probe/result.h"

namespace meshprobe::e2e {

struct Connection {
  kube::RealClock clock;
  kube::RealRandom random;
  kube::StderrLogger logger;
  kube::MetricsRegistry metrics;
  kube::RestConfig config;
  std::unique_ptr<kube::CpprestTransport> transport;
  std::unique_ptr<kube::KubernetesApi> api;  // a RestClient

  double counter(const std::string& family, std::vector<std::string> labels) {
    return metrics.counter(family, "").labels(labels).value();
  }
};

inline Result<std::unique_ptr<Connection>> connect(const std::string& kubeconfig,
                                                   kube::RestClientOptions options = {}) {
  static std::once_flag threads;
  std::call_once(threads, [] { kube::initialize_cpprest_threads(4); });
  auto connection = std::make_unique<Connection>();
  auto config = kube::load_kubeconfig(kubeconfig);
  if (!config) return config.error();
  connection->config = *config;
  auto transport = kube::CpprestTransport::create(connection->config, connection->clock);
  if (!transport) return transport.error();
  connection->transport = std::move(transport).value();
  if (options.host == "none") options.host = kube::server_host(connection->config.server);
  connection->api = std::make_unique<kube::RestClient>(*connection->transport, options,
                                                       connection->clock, connection->metrics);
  return connection;
}

}  // namespace meshprobe::e2e
