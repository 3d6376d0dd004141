// Discovery: which version of an API group the server serves a resource in, decided at run
// time. meshprobe reads PeerAuthentication from security.istio.io v1 where served, else
// v1beta1; and Istio may be installed after meshprobe starts, so "not served" is an answer,
// asked again later (the reflector polls; see reflector.h).
#pragma once

#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kube/api.h"

namespace meshprobe::kube {

// The resource type to use now, or nullopt when the server does not serve it (yet).
using ResourceResolver = std::function<ApiResult<std::optional<ResourceType>>()>;

// A resolver for a built-in kind, which is always served.
ResourceResolver fixed_resource(ResourceType type);

// Reads the discovery documents of API groups, one request per document at a time. Several
// reflectors resolve resources of one group at the same moment (PeerAuthentications and
// AuthorizationPolicies are both security.istio.io); a caller that finds the document already
// being read waits for that request and shares its answer. So a 429 and its Retry-After are
// honoured once for all of them, instead of each sending its own request into the throttle.
// Answers are not kept: the next read after one finishes asks the server again.
class Discovery {
 public:
  explicit Discovery(KubernetesApi& api) : api_(api) {}
  Discovery(const Discovery&) = delete;
  Discovery& operator=(const Discovery&) = delete;

  // The first of `versions` (in the caller's order of preference) in which `group` serves
  // `plural`, with its kind and scope from the server; nullopt when none is served.
  ApiResult<std::optional<ResourceType>> resource(const std::string& group,
                                                  const std::string& plural,
                                                  const std::vector<std::string>& versions);

  // A resolver asking resource() each time (the Discovery must outlive it).
  ResourceResolver resolver(std::string group, std::string plural,
                            std::vector<std::string> versions);

  // How many callers wait for the read of `path` in flight (for tests).
  int waiting_for(const std::string& path) const;

 private:
  ApiResult<nlohmann::json> get_path(const std::string& path);

  struct InFlight {
    std::shared_future<ApiResult<nlohmann::json>> answer;
    int waiting = 0;
  };

  KubernetesApi& api_;
  mutable std::mutex mutex_;
  std::map<std::string, InFlight> in_flight_;  // by path
};

// One-shot discovery, for callers without a Discovery of their own (meshprobe preview).
ApiResult<std::optional<ResourceType>> discover_resource(KubernetesApi& api,
                                                         const std::string& group,
                                                         const std::string& plural,
                                                         const std::vector<std::string>& versions);

}  // namespace meshprobe::kube
