#include "probe/mesh.h"

#include "probe/names.h"
#include "probe/object_fields.h"
#include "probe/port_list.h"

namespace meshprobe::probe {

MeshMembership mesh_membership(const Labels& namespace_labels,
                               const nlohmann::json& template_metadata) {
  const std::string inject_key(kSidecarInjectLabel);
  const Labels template_labels = labels_of(template_metadata);
  auto label = template_labels.find(inject_key);
  auto inject = label != template_labels.end() ? std::optional<std::string>(label->second)
                                               : annotation(template_metadata, kSidecarInjectLabel);
  if (inject == "true") return {true, "pod template sets " + inject_key + "=true"};
  if (inject == "false") return {false, "pod template sets " + inject_key + "=false"};

  const std::string injection_key(kIstioInjectionLabel);
  if (auto it = namespace_labels.find(injection_key); it != namespace_labels.end()) {
    const bool enabled = it->second == "enabled";
    return {enabled, "namespace label " + injection_key + "=" + it->second};
  }
  const std::string revision_key(kIstioRevisionLabel);
  if (auto it = namespace_labels.find(revision_key); it != namespace_labels.end()) {
    return {true, "namespace label " + revision_key + "=" + it->second};
  }
  return {false, "namespace has neither " + injection_key + "=enabled nor " + revision_key};
}

bool inbound_port_captured(const nlohmann::json& template_metadata, int port) {
  auto include = annotation(template_metadata, kIncludeInboundPortsAnnotation);
  if (include && trim(*include) != "*" && !port_list_contains(*include, port)) return false;
  auto exclude = annotation(template_metadata, kExcludeInboundPortsAnnotation);
  return !(exclude && port_list_contains(*exclude, port));
}

}  // namespace meshprobe::probe
