// The probe rewrite and its exact inverse, on a pod template held as JSON: `spec.template`
// of a workload, or a Pod's own {metadata, spec}. Pure functions: no I/O, no clock.
//
// rewrite() points every in-scope liveness/readiness/startup probe and preStop/postStart
// handler of every container and native-sidecar init container (restartPolicy Always) at the
// meshprobe agent, records the originals and adds the agent (see DESIGN.md "Rewrite"):
//   - httpGet: port -> agent port, path -> /app-health/<c>/livez|readyz|startupz or
//     /app-lifecycle/<c>/prestopz|poststartz, scheme -> HTTP, host dropped; everything else kept;
//   - tcpSocket, grpc: replaced by httpGet {path, port: agent, scheme: HTTP}; timing kept;
//   - the API server's defaults of a rewritten probe (scheme HTTP, timeoutSeconds 1,
//     periodSeconds 10, successThreshold 1, failureThreshold 3) are written out, so that the
//     template the API server stores is exactly the one rewrite() produced: rewrite() of a
//     template read back from the API server is a fixed point (restore() leaves them out
//     again where the original did);
//   - exec, sleep: never touched;
//   - the originals' actions go into the agent's ISTIO_KUBE_APP_PROBERS (named ports
//     resolved; pod-local host kept), the complete originals into the annotation
//     meshprobe.io/original-probes (see "Record" below);
//   - the agent container `meshprobe-agent` becomes the first init container
//     (restartPolicy Always, so it runs before and outlives the probes that need it), and the
//     agent port is merged into traffic.sidecar.istio.io/excludeInboundPorts.
//
// Determinism: rewrite(t) == rewrite of restore(t).pod_template, except that fields others
// added to the agent container (admission plugins, policy engines) are kept where they do
// not clash with meshprobe's (objects merge member by member). rewrite() first
// restores whatever an earlier rewrite left (fully or partly rewritten templates, a changed
// agent port or image, probes a user or GitOps tool changed after the rewrite) and then
// rewrites that original view. Hence rewrite(rewrite(t)) == rewrite(t), and a converged
// template gives back itself. A template with nothing to rewrite gives restore(t).
//
// restore() is the exact inverse: restore(rewrite(t)) == t for a template t that carries no
// meshprobe traces, field for field. A probe that still points at the agent gets its recorded
// original action back, keeping the current non-action fields (so edits to a rewritten
// probe's timing survive); a probe that no longer points at the agent was changed by someone
// else since the rewrite and is kept as it is (reported as kUserChanged).
//
// Record (annotation meshprobe.io/original-probes, compact JSON, deterministic):
//   {"agentPort": 15120,
//    "probes": {"<container>": {"liveness"|"readiness"|"startup"|"preStop"|"postStart":
//    {original}}}, "excludeInboundPorts": "<the annotation before the rewrite>"   (absent: it was
//    absent), "empty": ["initContainers", "metadata", "annotations"]}   (those the original had,
//    empty)
// restore() removes the agent, the annotations and whatever that leaves empty (an
// initContainers list, annotations, metadata), unless "empty" says the original had it so.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "probe/app_probers.h"
#include "probe/names.h"
#include "probe/result.h"
#include "probe/rewrite_scope.h"

namespace meshprobe::probe {

// The agent as the controller (or `meshprobe inject`) is configured.
struct AgentConfig {
  std::string image;
  int port = kDefaultAgentPort;
};

enum class ProbeOutcome {
  kRewritten,         // rewrite: now asks the agent
  kNotRewritable,     // exec or sleep: never touched
  kExcludedByPolicy,  // rewrite: rewritable, but the scope's probes/protocols leave it out
  kNotRequired,       // rewrite: mode WhenRequired, and it works without a rewrite
  kInvalid,           // valid Kubernetes, but cannot be rewritten (unresolvable named port,
                      // off-pod host, agent port taken, unknown original): left as it was
  kMalformed,         // not valid Kubernetes (no or two actions, port out of range, wrong
                      // type): left as it was; `meshprobe inject` refuses such input
  kRestored,          // restore: the original action is back
  kUserChanged,       // restore: changed by someone else since the rewrite; kept as it is
  kLeftToIstio,       // rewrite: Istio already rewrote it to its status port (istioctl
                      // kube-inject output); Istio answers it, meshprobe never chains it
};
std::string_view outcome_name(ProbeOutcome outcome);  // "rewritten", "not rewritable", ...

// One probe or lifecycle handler that rewrite() or restore() looked at (absent slots are not
// reported). Reports come in pod order: init containers, then containers; slots in the
// order liveness, readiness, startup, preStop, postStart.
struct ProbeReport {
  std::string container;
  bool init_container = false;
  ProbeSlot slot = ProbeSlot::kLiveness;
  std::string field;  // where it is in the pod template: "spec.containers[0].livenessProbe"
  std::string
      action;  // the original action: "httpGet", "tcpSocket", "grpc", "exec", "sleep", "" if none
  std::string before;  // one line: "httpGet HTTPS :8443/healthz", "tcpSocket :http (8080)"
  std::string
      after;  // kRewritten: "httpGet :15120/app-health/web/livez"; kRestored: the restored one
  ProbeOutcome outcome = ProbeOutcome::kNotRewritable;
  std::string reason;  // why, for every outcome but kNotRewritable; for kRewritten only when
                       // worth saying (an AuthorizationPolicy made it required)
  bool operator==(const ProbeReport&) const = default;
};

struct RewriteResult {
  nlohmann::json pod_template;
  std::vector<ProbeReport> probes;
  std::vector<std::string> notes;  // template-level remarks: an unreadable record, ...
  bool changed = false;            // pod_template differs from the input
  AppProbers app_probers;          // what the agent was given (empty: no agent)
  bool held = false;  // apply_decision() (decision.h): Istio's per-pod rewrite is held off

  int count(ProbeOutcome outcome) const;
};

// Errors only for a template whose structure is not a pod template's (spec or containers of
// the wrong type, a container without a DNS-label name, duplicate container names, a
// container of the agent's name that is not the agent); the message names the field.
// Per-probe problems are reports, never errors.
Result<RewriteResult> rewrite(const nlohmann::json& pod_template, const AgentConfig& agent,
                              const RewriteScope& scope = {});

// `agent_port`: the configured port, used (besides the port recorded in the annotation and
// the agent container's own) to recognise probes that point at the agent.
Result<RewriteResult> restore(const nlohmann::json& pod_template,
                              int agent_port = kDefaultAgentPort);

// Whether the template carries any meshprobe trace: the agent container, the record
// annotation, or a probe pointing at the agent.
bool is_rewritten(const nlohmann::json& pod_template, int agent_port = kDefaultAgentPort);

}  // namespace meshprobe::probe
