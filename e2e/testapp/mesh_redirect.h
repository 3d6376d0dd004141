// The mesh-sidecar stand-in's traffic capture: what Istio's istio-init installs in a pod (in
// its nftables mode, table "inet istio-proxy-nat"), reduced to the inbound side that the seed
// describes. Every inbound TCP connection to the pod is redirected to the proxy's port,
// except connections to excluded ports (the pod annotation
// traffic.sidecar.istio.io/excludeInboundPorts, where meshprobe adds its agent's port).
//
// Only the prerouting hook captures: connections made inside the pod (the agent's, as uid
// 1337, to the application) never pass it, so they reach the application directly. Istio
// captures one more case that this stand-in leaves out on purpose: uid-1337 traffic to the
// pod's own address over loopback, unless its source address is 127.0.0.6 (e2e/README.md "The
// node").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "probe/result.h"

namespace meshprobe::e2e {

inline constexpr std::string_view kRedirectTable = "meshprobe-mesh-nat";

struct RedirectConfig {
  int proxy_port = 15006;
  std::vector<int> excluded_inbound_ports;
};

// "15120, 9090" -> {15120, 9090}; empty or blank -> {}. Istio's annotation syntax.
Result<std::vector<int>> parse_port_list(std::string_view text);

// The nft script (libnftables' input) that creates the table, for a fresh network namespace.
std::string redirect_ruleset(const RedirectConfig& config);

}  // namespace meshprobe::e2e
