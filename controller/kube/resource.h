// ResourceType: what a request path needs to know about a kind (group, version, plural,
// scope), and the kinds meshprobe itself uses. Discovery (discovery.h) builds them for kinds
// whose served version is known only at run time (security.istio.io).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace meshprobe::kube {

struct ResourceType {
  std::string group;  // "" for the core group
  std::string version;
  std::string plural;  // deployments
  std::string kind;    // Deployment
  bool namespaced = true;

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  // /apis/apps/v1/namespaces/ns/deployments/name/status; an empty namespace means all
  // namespaces (or a cluster-scoped kind), an empty name the collection.
  std::string path(const std::string& namespace_name = "", const std::string& name = "",
                   const std::string& subresource = "") const;
  bool operator==(const ResourceType&) const = default;
};

namespace resources {
inline const ResourceType kDeployments{"apps", "v1", "deployments", "Deployment", true};
inline const ResourceType kNamespaces{"", "v1", "namespaces", "Namespace", false};
inline const ResourceType kConfigMaps{"", "v1", "configmaps", "ConfigMap", true};
inline const ResourceType kEvents{"", "v1", "events", "Event", true};
inline const ResourceType kLeases{"coordination.k8s.io", "v1", "leases", "Lease", true};
inline const ResourceType kCustomResourceDefinitions{
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false};
}  // namespace resources

// "namespace/name", or "name" for cluster-scoped objects: the work queue's keys.
std::string object_key(const std::string& namespace_name, const std::string& name);
std::string object_key(const nlohmann::json& object);

// Percent-encodes a query parameter value (label selectors contain '=', ',' and '!').
std::string encode_query_value(const std::string& value);

}  // namespace meshprobe::kube
