// The kinds of workload meshprobe rewrites: one row each, saying where the pod template is, how
// the workload's status is written and how its rollout's progress is read (docs/workloads.md).
// Everything that is not in this table is the same for every kind (the decision, rewrite and
// restore, write expectations, conflict detection, Events, pacing): the one WorkloadReconciler
// (workload_reconciler.h) reads the row and nothing else kind-specific. Adding a kind is a row
// here and its tests. Pure: no I/O, usable without the reconciler (read-only listings use it).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kube/resource.h"
#include "operator/conditions.h"

namespace meshprobe::controller {

// How meshprobe's state is written onto a workload of the kind.
enum class StatusStyle {
  // Server-side apply of the one HealthProbesRewritten entry on <kind>/status: the kind's
  // status.conditions is a list map keyed by type, so other writers' entries are kept.
  kApplyCondition,
  // A JSON patch of that entry at its index in status.conditions, conditional on the version
  // read (409 when it moved on): the kind's CRD leaves the list atomic, where an apply of one
  // entry would drop the others.
  kPatchConditionList,
  // The status has no conditions: annotations on the workload's metadata (kStateAnnotations).
  kAnnotations,
};

// What rollout progress a kind's status shows, as read from one version of the object.
struct RolloutProgress {
  bool finished = true;  // the controller observed the latest spec and every Pod runs it
  // The kind's controller replaces Pods only while all of them are Ready, and some are not: a
  // StatefulSet with podManagementPolicy OrderedReady (the default) and a rolling update. If
  // they stay not Ready (their original probes failing under mutual TLS, the very case
  // meshprobe is for), a template change rolls out only once they are deleted (Kubernetes
  // calls this the StatefulSet's forced rollback).
  bool waits_for_unready_pods = false;
};

struct WorkloadKind {
  std::string_view kind;  // "Deployment": Events, messages and work-queue keys
  kube::ResourceType resource;
  // Served only when a CRD is installed (Argo Rollouts): discovered at run time, and picked up
  // when the CRD appears after the start.
  bool needs_discovery = false;
  std::vector<std::string> template_path;  // {"spec", "template"}
  StatusStyle status = StatusStyle::kApplyCondition;
  ConditionShape condition_shape = ConditionShape::kDeployment;
  // spec.updateStrategy.type can be OnDelete: a template change rolls nothing out, Pods pick it
  // up when they are recreated.
  bool has_update_strategy = false;
  // Whether a template change starts a rollout at all (a CronJob's next Job just uses it).
  bool rolls_out = true;
  RolloutProgress (*read_progress)(const nlohmann::json& object) = nullptr;
};

// Every kind, Deployment first.
const std::vector<WorkloadKind>& workload_kinds();
// The row of `kind` ("StatefulSet"), or nullptr.
const WorkloadKind* find_workload_kind(std::string_view kind);
// The row's position in workload_kinds().
std::size_t kind_index(const WorkloadKind& kind);

// The annotations that carry the state of a kind with StatusStyle::kAnnotations: the
// condition's status, reason, message and lastTransitionTime.
inline constexpr std::string_view kStateStatusAnnotation = "meshprobe.io/health-probes-rewritten";
inline constexpr std::string_view kStateReasonAnnotation = "meshprobe.io/health-probes-reason";
inline constexpr std::string_view kStateMessageAnnotation = "meshprobe.io/health-probes-message";
inline constexpr std::string_view kStateTransitionAnnotation =
    "meshprobe.io/health-probes-last-transition-time";

// The pod template of `object` (at kind.template_path), or nullptr.
const nlohmann::json* find_pod_template(const nlohmann::json& object, const WorkloadKind& kind);
// The template's JSON pointer: "/spec/template", "/spec/jobTemplate/spec/template".
std::string template_pointer(const WorkloadKind& kind);

// Work-queue keys of workloads: "StatefulSet/shop/db".
std::string workload_key(const WorkloadKind& kind, const std::string& object_key);
struct WorkloadKey {
  const WorkloadKind* kind = nullptr;
  std::string object_key;  // "shop/db"
};
std::optional<WorkloadKey> parse_workload_key(std::string_view key);

}  // namespace meshprobe::controller
