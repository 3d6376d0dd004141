// The only addresses the agent ever dials: the pod's own (DESIGN.md "Agent behaviour").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace meshprobe::agent {

// The host a probe asks, as the kubelet would name it: the stored host, else POD_IP, else
// 127.0.0.1 (the agent runs in the application's network namespace either way).
std::string probe_host(std::string_view stored_host, std::string_view pod_ip);

// The IP address to dial for a host name: "localhost" is 127.0.0.1 (the agent never resolves
// names), 127.0.0.1, ::1 and POD_IP are themselves; nullopt for any other host.
std::optional<std::string> dial_address(std::string_view host, std::string_view pod_ip);

}  // namespace meshprobe::agent
