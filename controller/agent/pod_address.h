// The only addresses the agent ever dials: the pod's own (DESIGN.md "Agent behaviour").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meshprobe::agent {

// The host a probe asks, as the kubelet would name it: the stored host, else POD_IP, else
// 127.0.0.1 (the agent runs in the application's network namespace either way).
std::string probe_host(std::string_view stored_host, std::string_view pod_ip);

// The IP addresses to dial for a host name, to be tried in order: "localhost" is 127.0.0.1,
// then ::1 (as /etc/hosts lists it and as the kubelet's Go dialer tries it, so an application
// that listens on IPv6 loopback only is reached; the agent never resolves names); 127.0.0.1,
// ::1 and POD_IP are themselves; none for any other host.
std::vector<std::string> dial_addresses(std::string_view host, std::string_view pod_ip);

// The source address for the agent's connection to `target` (an IP address) that Istio's
// traffic capture lets through: Istio redirects the sidecar user's (uid 1337, the agent's)
// connections to the pod's own address over loopback into its inbound listener unless they
// come from 127.0.0.6 (::6 for IPv6), the address its own agent binds for probes. So: that
// address when `target` is POD_IP, nothing otherwise (loopback targets are not captured).
std::optional<std::string> mesh_exempt_source_address(std::string_view target,
                                                      std::string_view pod_ip);

}  // namespace meshprobe::agent
