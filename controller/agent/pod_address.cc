#include "agent/pod_address.h"

#include <boost/asio/ip/address.hpp>

namespace meshprobe::agent {

std::string probe_host(std::string_view stored_host, std::string_view pod_ip) {
  if (!stored_host.empty()) return std::string(stored_host);
  if (!pod_ip.empty()) return std::string(pod_ip);
  return "127.0.0.1";
}

std::vector<std::string> dial_addresses(std::string_view host, std::string_view pod_ip) {
  if (host == "localhost") return {"127.0.0.1", "::1"};
  if (host == "127.0.0.1" || host == "::1") return {std::string(host)};
  if (!pod_ip.empty() && host == pod_ip) return {std::string(pod_ip)};
  return {};
}

std::optional<std::string> mesh_exempt_source_address(std::string_view target,
                                                      std::string_view pod_ip) {
  boost::system::error_code error;
  const auto target_address = boost::asio::ip::make_address(std::string(target), error);
  if (error) return std::nullopt;
  const auto pod_address = boost::asio::ip::make_address(std::string(pod_ip), error);
  if (error || target_address != pod_address) return std::nullopt;
  return pod_address.is_v4() ? "127.0.0.6" : "::6";
}

}  // namespace meshprobe::agent
