#include "kube/resource.h"

namespace meshprobe::kube {

std::string ResourceType::path(const std::string& namespace_name, const std::string& name,
                               const std::string& subresource) const {
  std::string out = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !namespace_name.empty()) out += "/namespaces/" + namespace_name;
  out += "/" + plural;
  if (!name.empty()) out += "/" + name;
  if (!subresource.empty()) out += "/" + subresource;
  return out;
}

std::string object_key(const std::string& namespace_name, const std::string& name) {
  return namespace_name.empty() ? name : namespace_name + "/" + name;
}

std::string object_key(const nlohmann::json& object) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  return object_key(metadata->value("namespace", ""), metadata->value("name", ""));
}

std::string encode_query_value(const std::string& value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char character : value) {
    if (std::isalnum(character) || character == '-' || character == '_' || character == '.' ||
        character == '~') {
      out += static_cast<char>(character);
    } else {
      out += '%';
      out += kHex[character >> 4];
      out += kHex[character & 0xF];
    }
  }
  return out;
}

}  // namespace meshprobe::kube
