#include "kube/resource.h"

namespace meshprobe::kube {

std::string ResourceType::path(const std::string& namespaceName, const std::string& name,
                               const std::string& subresource) const {
  std::string out = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !namespaceName.empty()) out += "/namespaces/" + namespaceName;
  out += "/" + plural;
  if (!name.empty()) out += "/" + name;
  if (!subresource.empty()) out += "/" + subresource;
  return out;
}

std::string objectKey(const std::string& namespaceName, const std::string& name) {
  return namespaceName.empty() ? name : namespaceName + "/" + name;
}

std::string objectKey(const nlohmann::json& object) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  return objectKey(metadata->value("namespace", ""), metadata->value("name", ""));
}

std::string encodeQueryValue(const std::string& value) {
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
