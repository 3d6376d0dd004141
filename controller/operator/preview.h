// Preview: what the controller would do right now to every workload it considers, and why,
// without changing anything (`meshprobe preview`, docs/preview.md). It fills the controller's
// own caches (cluster_state.h, the same projections) with one list of each kind instead of a
// watch, and asks the reconciler's own planning function (plan_workload(), workload_plan.h)
// for each workload, so a preview cannot disagree with the controller. Only get and list calls
// reach the API server (the ClusterRole meshprobe-preview allows no more).
//
// "What if": `policy` adds a HealthProbePolicy that is not applied yet (or replaces the one of
// the same namespace and name), as the API server would hold it right after an apply; `toggle`
// sets the global switch (the injector ConfigMap's rewriteAppHTTPProbe) as the seed's sed does.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kube/api.h"
#include "operator/workload_plan.h"
#include "probe/result.h"

namespace meshprobe::controller {

struct PreviewRequest {
  std::string namespace_name;  // "" = every namespace
  std::string label_selector;  // of the workloads
  std::optional<nlohmann::json> policy;
  std::optional<bool> toggle;
  WorkloadPlanOptions options;  // the controller's settings (its config file)
};

struct ProbePreview {
  std::string container;
  bool init_container = false;
  std::string probe;    // liveness, readiness, startup, preStop, postStart
  std::string outcome;  // probe::outcome_name(): rewritten, not required, invalid, ...
  std::string before;   // one line, as the controller logs it
  std::string after;    // empty when the probe stays as it is
  std::string reason;   // why, when it is not rewritten or restored
};

struct WorkloadPreview {
  std::string kind;  // Deployment, StatefulSet, ...
  std::string namespace_name;
  std::string name;
  // rewrite / restore: the controller writes the template now; none: it is as the controller
  // wants it; skip: the controller leaves this workload alone (see message).
  std::string action;
  std::string reason;   // the HealthProbesRewritten condition's reason it converges to
  std::string message;  // the condition's message: what was decided, by what, which probes
  std::vector<std::string> notes;
  std::vector<ProbePreview> probes;
};

// The preview of every workload `request` selects, sorted by namespace, kind and name. Errors:
// the API server unreachable, a forbidden list or get, an unknown namespace, an invalid
// `policy`; each is one line a person can act on.
Result<std::vector<WorkloadPreview>> preview(kube::KubernetesApi& api,
                                             const PreviewRequest& request);

nlohmann::json to_json(const WorkloadPreview& workload);

}  // namespace meshprobe::controller
