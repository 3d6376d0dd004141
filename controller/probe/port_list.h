// Istio's comma-separated port lists (traffic.sidecar.istio.io/excludeInboundPorts and
// friends): "8080, 9090". Entries that are not ports are kept as they are, never dropped.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace meshprobe::probe {

std::string_view trim(std::string_view text);
bool port_list_contains(std::string_view list, int port);
// The list with `port` appended (",port"), unless it already holds it; an absent or blank
// list becomes "port".
std::string port_list_with(const std::optional<std::string>& list, int port);
// The list without any entry equal to `port`; other entries and their spelling are kept.
std::string port_list_without(std::string_view list, int port);

}  // namespace meshprobe::probe
