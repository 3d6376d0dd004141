#include "agent/pod_address.h"

namespace meshprobe::agent {

std::string probe_host(std::string_view stored_host, std::string_view pod_ip) {
  if (!stored_host.empty()) return std::string(stored_host);
  if (!pod_ip.empty()) return std::string(pod_ip);
  return "127.0.0.1";
}

std::optional<std::string> dial_address(std::string_view host, std::string_view pod_ip) {
  if (host == "localhost") return "127.0.0.1";
  if (host == "127.0.0.1" || host == "::1") return std::string(host);
  if (!pod_ip.empty() && host == pod_ip) return std::string(pod_ip);
  return std::nullopt;
}

}  // namespace meshprobe::agent
