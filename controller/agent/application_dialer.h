// The one place where the agent connects to the application (HTTP, TCP and gRPC probes alike):
// to the pod's own addresses only (pod_address.h), in the order a host name lists them, and
// from the source address Istio's traffic capture lets through when the target is the pod IP.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/asio.h"
#include "agent/deadline.h"
#include "agent/logger.h"

namespace meshprobe::agent {

struct DialResult {
  error_code error;     // of the first address tried, when none accepted (as Go's dialer reports)
  std::string address;  // the address connected to; else the first one tried
};

class ApplicationDialer {
 public:
  ApplicationDialer(std::string pod_ip, Logger& logger)
      : pod_ip_(std::move(pod_ip)), logger_(logger) {}

  // Connects `socket` to the first of `addresses` (IP addresses, from dial_addresses) that
  // accepts on `port`, within `deadline` (the socket's): once it has passed, no further address
  // is tried. A connection to the pod IP is bound to
  // 127.0.0.6 (::6 for IPv6) first; a bind that fails (::6 where nothing set it up) is
  // logged once, and that connection goes out unbound, as it would without a mesh.
  asio::awaitable<DialResult> connect(asio::ip::tcp::socket& socket,
                                      const ConnectionDeadline& deadline,
                                      const std::vector<std::string>& addresses, int port);

 private:
  void bind_source(asio::ip::tcp::socket& socket, const asio::ip::tcp::endpoint& target);

  std::string pod_ip_;
  Logger& logger_;
  bool bind_failure_logged_ = false;
};
using ApplicationDialerPtr = std::shared_ptr<ApplicationDialer>;  // shared by the three probers

}  // namespace meshprobe::agent
