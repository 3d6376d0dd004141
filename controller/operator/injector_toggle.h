// The global probe-rewrite toggle: ConfigMap istio-sidecar-injector in the mesh root namespace,
// key "values" (JSON, as Istio's chart renders it with toPrettyJson), field
// sidecarInjectorWebhook.rewriteAppHTTPProbe. Pure functions: the reconciler reads the
// ConfigMap from its cache and writes what plan_injector_values() returns.
#pragma once

#include <optional>
#include <string>

namespace meshprobe::controller {

inline constexpr const char* kInjectorConfigMapName = "istio-sidecar-injector";
inline constexpr const char* kInjectorValuesKey = "values";

struct InjectorToggle {
  // The toggle's value; nullopt when the ConfigMap, the key or the field is missing or unreadable.
  std::optional<bool> rewrite;
  // Why the value could not be read, for logs and condition messages; empty when it was read
  // or is simply absent.
  std::string problem;
};

// Reads the toggle from the "values" string of the ConfigMap (nullopt: ConfigMap or key missing).
InjectorToggle read_injector_toggle(const std::optional<std::string>& values);

// What the controller writes into "values", given what is there now:
//  - missing ConfigMap or key: a new document holding only the field, set to `policy_value` if a
//    mesh-wide HealthProbePolicy decides, else to `default_value`;
//  - field missing: the field is added, everything else kept as it was, in its order;
//  - field present: left alone (a user's edit is never reverted), unless a mesh-wide policy
//    decides, in which case the policy's value is written;
//  - "values" not a JSON object: left alone (problem says why), since rewriting it would lose
//    the user's content.
// Returns nullopt when nothing needs writing. Output is indented JSON
// ("rewriteAppHTTPProbe": true, with the space) so that the seed's sed expression matches.
struct InjectorValuesPlan {
  std::optional<std::string> values;  // the new "values" string, when a write is needed
  std::string problem;
};
InjectorValuesPlan plan_injector_values(const std::optional<std::string>& values,
                                        std::optional<bool> policy_value, bool default_value);

}  // namespace meshprobe::controller
