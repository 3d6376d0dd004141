// meshprobe's hold on Istio's per-pod probe rewrite. Istio's injector rewrites every probe of
// a pod it injects (at admission, or in istioctl kube-inject) unless the pod's annotation
// sidecar.istio.io/rewriteAppHTTPProbers parses false. meshprobe sets that annotation to
// "false" on a template it rewrote (so Istio does not chain its probes through pilot-agent)
// and on a template it decided not to rewrite where Istio otherwise would (so the decision
// holds at the pod), and records what the user had in meshprobe.io/istio-rewrite-hold, so that:
//   - release_istio_hold() puts the user's annotation back exactly (or leaves a value the
//     user wrote since);
//   - the decision reads the annotation as the user wrote it (user_rewrite_annotation()).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace meshprobe::probe {

// The template's sidecar.istio.io/rewriteAppHTTPProbers as its user wrote it: meshprobe's own
// "false" is seen through. `template_metadata` may be null JSON.
std::optional<std::string> user_rewrite_annotation(const nlohmann::json& template_metadata);

// Whether the template carries meshprobe's hold.
bool holds_istio_rewrite(const nlohmann::json& pod_template);

// Sets the annotation to "false" and records the user's value; a template already held is
// left as it is. `pod_template` is {metadata, spec}.
void hold_istio_rewrite(nlohmann::json& pod_template);

// Undoes hold_istio_rewrite(): the user's value (or no annotation) comes back, unless the user
// changed the annotation since, which is kept. Empty annotations/metadata that the hold
// created are removed again. True when the template carried a hold.
bool release_istio_hold(nlohmann::json& pod_template);

}  // namespace meshprobe::probe
