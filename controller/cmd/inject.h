// `meshprobe inject`: the engine applied to manifests, offline. A pure function from the
// input text to the output text and the warnings; the command (inject_command.cc) does the
// reading and writing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "probe/result.h"
#include "probe/rewrite.h"

namespace meshprobe::cmd {

struct InjectOptions {
  bool restore = false;  // undo a rewrite instead
  probe::AgentConfig agent;
};

struct InjectOutput {
  std::string manifests;              // every document, in order, "---"-separated
  std::vector<std::string> warnings;  // probes left as they were, ignored annotations, ...
};

// Multi-document YAML in, YAML out. Documents that hold no pod template (or whose template
// does not change) are copied through byte for byte, comments included; rewritten ones are
// written anew with their keys in the input's order. Pod templates are found in Pods,
// PodTemplates, ReplicationControllers, Deployments, ReplicaSets, StatefulSets, DaemonSets,
// Jobs, CronJobs and inside List items. The template's annotation
// sidecar.istio.io/rewriteAppHTTPProbers=false is honoured (such a template is restored,
// as the controller would do).
// Errors: malformed YAML, a document that is not a mapping, a structurally broken pod
// template, a malformed probe (no or two actions, a port out of range): one message naming
// the document ("document 2 (Deployment shop/web, line 14)") and the field; no output then.
Result<InjectOutput> inject(std::string_view input, const InjectOptions& options);

}  // namespace meshprobe::cmd
