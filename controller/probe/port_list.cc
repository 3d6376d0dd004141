#include "probe/port_list.h"

#include <vector>

namespace meshprobe::probe {
namespace {

std::vector<std::string_view> entries(std::string_view list) {
  std::vector<std::string_view> out;
  while (true) {
    auto comma = list.find(',');
    out.push_back(list.substr(0, comma));
    if (comma == std::string_view::npos) return out;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

bool port_list_contains(std::string_view list, int port) {
  const std::string wanted = std::to_string(port);
  for (auto entry : entries(list)) {
    if (trim(entry) == wanted) return true;
  }
  return false;
}

std::string port_list_with(const std::optional<std::string>& list, int port) {
  if (!list || trim(*list).empty()) return std::to_string(port);
  if (port_list_contains(*list, port)) return *list;
  return *list + "," + std::to_string(port);
}

std::string port_list_without(std::string_view list, int port) {
  const std::string unwanted = std::to_string(port);
  std::string out;
  for (auto entry : entries(list)) {
    if (trim(entry) == unwanted) continue;
    if (!out.empty()) out += ",";
    out += entry;
  }
  return out;
}

}  // namespace meshprobe::probe
