#include "mesh_redirect.h"

#include <charconv>

namespace meshprobe::e2e {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

Result<std::vector<int>> parse_port_list(std::string_view text) {
  std::vector<int> ports;
  const std::string_view whole = text;
  if (trim(text).empty()) return ports;
  while (true) {
    const auto comma = text.find(',');
    const auto item = trim(text.substr(0, comma));
    int port = 0;
    const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), port);
    if (item.empty() || error != std::errc{} || end != item.data() + item.size() || port < 1 ||
        port > 65535) {
      return Error{"\"" + std::string(item) + "\" is not a port (1-65535) in the port list \"" +
                   std::string(whole) + "\""};
    }
    ports.push_back(port);
    if (comma == std::string_view::npos) return ports;
    text = text.substr(comma + 1);
  }
}

std::string redirect_ruleset(const RedirectConfig& config) {
  const std::string table = "inet " + std::string(kRedirectTable);
  std::string script = "add table " + table + "\n";
  script += "add chain " + table +
            " prerouting { type nat hook prerouting priority dstnat; policy accept; }\n";
  script += "add chain " + table + " mesh-inbound\n";
  script += "add rule " + table + " prerouting meta l4proto tcp jump mesh-inbound\n";
  // The proxy's own port, then each excluded port, pass untouched.
  script += "add rule " + table + " mesh-inbound tcp dport " + std::to_string(config.proxy_port) +
            " return\n";
  for (int port : config.excluded_inbound_ports) {
    script += "add rule " + table + " mesh-inbound tcp dport " + std::to_string(port) + " return\n";
  }
  script += "add rule " + table +
            " mesh-inbound meta l4proto tcp redirect to :" + std::to_string(config.proxy_port) +
            "\n";
  return script;
}

}  // namespace meshprobe::e2e
