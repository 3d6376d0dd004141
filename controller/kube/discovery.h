// Discovery: which version of an API group the server serves a resource in, decided at run
// time. meshprobe reads PeerAuthentication from security.istio.io v1 where served, else
// v1beta1; and Istio may be installed after meshprobe starts, so "not served" is an answer,
// asked again later (the reflector polls; see reflector.h).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kube/api.h"

namespace meshprobe::kube {

// The resource type to use now, or nullopt when the server does not serve it (yet).
using ResourceResolver = std::function<ApiResult<std::optional<ResourceType>>()>;

// A resolver for a built-in kind, which is always served.
ResourceResolver fixed_resource(ResourceType type);

// The first of `versions` (in the caller's order of preference) in which `group` serves
// `plural`, with its kind and scope from the server; nullopt when none is served.
ApiResult<std::optional<ResourceType>> discover_resource(KubernetesApi& api,
                                                         const std::string& group,
                                                         const std::string& plural,
                                                         const std::vector<std::string>& versions);

ResourceResolver discovered_resource(KubernetesApi& api, std::string group, std::string plural,
                                     std::vector<std::string> versions);

}  // namespace meshprobe::kube
