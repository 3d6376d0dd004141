#include "operator/workload_reconciler.h"

#include <algorithm>

#include "kube/long_lived_allocations.h"
#include "operator/conditions.h"
#include "operator/workload_plan.h"
#include "probe/object_fields.h"

namespace meshprobe::controller {
namespace {

using nlohmann::json;

// "StatefulSet shop/db", for logs.
std::string reference(const WorkloadKind& kind, const kube::ObjectMeta& metadata) {
  return std::string(kind.kind) + " " + metadata.namespace_name + "/" + metadata.name;
}

EventSubject subject_of(const WorkloadKind& kind, const kube::ObjectMeta& metadata,
                        const WorkloadState& state) {
  return {kind.resource.api_version(),
          std::string(kind.kind),
          metadata.namespace_name,
          metadata.name,
          state.uid,
          metadata.resource_version};
}

long long generation_of(const json& object, long long fallback) {
  const json* metadata = probe::find_member(object, "metadata");
  const json* generation = metadata ? probe::find_member(*metadata, "generation") : nullptr;
  return generation && generation->is_number_integer() ? generation->get<long long>() : fallback;
}

// The newest of resource versions (kube-apiserver's versions are increasing integers).
std::string newest_version(const std::set<std::string>& versions) {
  return *std::max_element(
      versions.begin(), versions.end(), [](const std::string& left, const std::string& right) {
        return left.size() != right.size() ? left.size() < right.size() : left < right;
      });
}

std::string resource_version_of(const json& object) {
  const json* metadata = probe::find_member(object, "metadata");
  return metadata ? probe::string_member(*metadata, "resourceVersion").value_or("") : "";
}

// The manager that most recently wrote probe fields of the template: who reverted them.
std::string latest_probe_writer(const std::vector<ManagerSummary>& managers) {
  const ManagerSummary* latest = nullptr;
  for (const auto& manager : managers) {
    if (manager.owns_probe_fields && (!latest || manager.time >= latest->time)) latest = &manager;
  }
  return latest ? latest->manager : "an unknown field manager";
}

}  // namespace

std::string template_patch(const json& current, const json& desired,
                           const std::string& resource_version,
                           const std::string& template_pointer) {
  // Setting metadata.resourceVersion makes the write conditional: a workload changed since the
  // cache saw it gives 409 Conflict. (A JSON-patch "test" op would give 422 Invalid instead,
  // indistinguishable from a template the API server refuses.)
  json patch = json::array(
      {{{"op", "replace"}, {"path", "/metadata/resourceVersion"}, {"value", resource_version}}});
  for (auto operation : json::diff(current, desired, template_pointer))
    patch.push_back(std::move(operation));
  return patch.dump();
}

json status_condition_apply(const WorkloadKind& kind, const std::string& namespace_name,
                            const std::string& name, const json& condition) {
  return {{"apiVersion", kind.resource.api_version()},
          {"kind", kind.kind},
          {"metadata", {{"namespace", namespace_name}, {"name", name}}},
          {"status", {{"conditions", json::array({condition})}}}};
}

json state_annotations_patch(const json& condition) {
  return {
      {"metadata",
       {{"annotations",
         {{std::string(kStateStatusAnnotation), condition.value("status", "")},
          {std::string(kStateReasonAnnotation), condition.value("reason", "")},
          {std::string(kStateMessageAnnotation), condition.value("message", "")},
          {std::string(kStateTransitionAnnotation), condition.value("lastTransitionTime", "")}}}}}};
}

WorkloadReconciler::WorkloadReconciler(const ClusterCache& cache, kube::KubernetesApi& api,
                                       EventRecorder& events, RevertTracker& reverts,
                                       RolloutPacer& pacer, kube::Clock& clock,
                                       kube::MetricsRegistry& metrics, kube::Logger& logger,
                                       WorkloadReconcilerOptions options)
    : cache_(cache),
      api_(api),
      events_(events),
      reverts_(reverts),
      pacer_(pacer),
      clock_(clock),
      logger_(logger),
      options_(std::move(options)),
      expectations_(clock, options_.expectation_timeout),
      conditions_(metrics),
      writes_(metrics.counter("meshprobe_writes_total",
                              "Writes to the API server, by what was written.", {"kind"})),
      conflicts_(metrics.counter(
          "meshprobe_write_conflicts_total",
          "Writes refused with 409 Conflict (then retried from fresh state), by kind.", {"kind"})),
      reverts_counter_(
          metrics
              .counter("meshprobe_reverts_total",
                       "Rewritten workloads found with their original probes put back by another "
                       "field manager.")
              .labels({})) {}

void WorkloadReconciler::report_expired_rollouts() {
  for (const auto& key : pacer_.expire()) {
    const auto parsed = parse_workload_key(key);
    if (!parsed) continue;
    const auto entry = cache_.workloads.of(*parsed->kind).get(parsed->object_key);
    if (!entry) continue;
    const std::string message =
        "The rollout meshprobe started did not finish within " +
        std::to_string(
            std::chrono::duration_cast<std::chrono::seconds>(pacer_.deadline()).count()) +
        "s (rolloutDeadline): meshprobe no longer waits for it before rolling out other "
        "workloads. `kubectl rollout status` shows what holds it up.";
    logger_.warning(reference(*parsed->kind, entry->metadata) + ": " + message);
    events_.record(subject_of(*parsed->kind, entry->metadata, entry->value), EventType::kWarning,
                   "RolloutDeadlineExceeded", "WaitForRollout", message);
  }
}

kube::ReconcileResult WorkloadReconciler::reconcile(const std::string& key, std::stop_token stop) {
  const auto parsed = parse_workload_key(key);
  if (!parsed) return kube::ReconcileResult::terminal("not a workload key: " + key);
  report_expired_rollouts();
  auto entry = cache_.workloads.of(*parsed->kind).get(parsed->object_key);
  if (!entry) {  // deleted: forget everything about it
    conditions_.forget(std::string(parsed->kind->kind), parsed->object_key);
    expectations_.forget(key);
    reverts_.forget(key);
    pacer_.forget(key);
    std::lock_guard lock(seen_mutex_);
    seen_rewritten_.erase(key);
    return kube::ReconcileResult::done();
  }
  if (options_.excluded_namespaces.contains(entry->metadata.namespace_name))
    return kube::ReconcileResult::done();
  pacer_.observe(key, entry->value.generation, entry->value.rollout_finished);
  if (!expectations_.satisfied(key, entry->metadata.resource_version)) {
    // Our last write has not reached the cache yet; its watch event enqueues the key again.
    return kube::ReconcileResult::requeue_after(expectations_.remaining(key));
  }
  return reconcile_workload({*parsed->kind, key, entry->metadata, entry->value}, stop);
}

kube::ReconcileResult WorkloadReconciler::reconcile_workload(const Workload& workload,
                                                             std::stop_token stop) {
  const WorkloadKind& kind = workload.kind;
  const std::string& key = workload.key;
  const kube::ObjectMeta& metadata = workload.metadata;
  const WorkloadState& state = workload.state;
  std::set<std::string> stale_versions{metadata.resource_version};

  // What to do, as `meshprobe preview` shows it (workload_plan.h); the rest is the writing.
  const WorkloadPlan plan = plan_workload(cache_, options_, kind, metadata, state);
  switch (plan.skip) {
    case PlanSkip::kNone:
    case PlanSkip::kConflictingWriter:  // conflicting_writer() below keeps the stop
      break;
    case PlanSkip::kExcludedNamespace:
    case PlanSkip::kTemplateElsewhere:
      pacer_.withdraw(key);
      return kube::ReconcileResult::done();
    case PlanSkip::kOwnedByController:
      pacer_.withdraw(key);
      return write_condition(workload, plan.condition, stale_versions);
  }
  const probe::Decision& decision = plan.decision;
  if (!plan.result) {
    pacer_.withdraw(key);
    auto written = write_condition(workload, plan.condition, stale_versions);
    return written.kind == kube::ReconcileResult::Kind::kDone
               ? kube::ReconcileResult::terminal(plan.condition.message)
               : written;
  }
  const probe::RewriteResult& result = *plan.result;
  if (decision.rewrite && !result.changed) {  // converged: rewritten as meshprobe wants it
    remember_rewritten(key);
  }
  if (decision.rewrite && result.changed) {
    if (auto writer = conflicting_writer(workload)) {
      pacer_.withdraw(key);
      return write_condition(workload, {false, probe::ConditionReason::kConflictingWriter, *writer},
                             stale_versions);
    }
  }

  // The condition describes the state the template converges to (plan.condition), so it is
  // written once; the Event describes what this write did.
  const probe::ConditionSummary action = probe::summarize(decision, result);
  // Writes that roll nothing out by themselves take no rollout slot: OnDelete, and a
  // StatefulSet waiting for Pods that may never be Ready (it would hold its slot until the
  // deadline, and at install time under STRICT many StatefulSets are in that state at once).
  const bool starts_rollout =
      kind.rolls_out && !state.update_on_delete && !state.rollout_waits_for_unready_pods;
  if (!result.changed) {
    pacer_.withdraw(key);
  } else {
    if (starts_rollout && !pacer_.admit(key)) {
      const probe::ConditionSummary queued{
          state.rewritten, probe::ConditionReason::kRolloutQueued,
          std::string("meshprobe ") + (decision.rewrite ? "rewrites" : "restores") +
              " the probes once fewer than " + std::to_string(pacer_.max_concurrent()) +
              " of the workloads it changed are still rolling out (maxConcurrentRollouts)."};
      auto written = write_condition(workload, queued, stale_versions);
      if (written.kind != kube::ReconcileResult::Kind::kDone) return written;
      // Woken when a slot frees up; at the latest when the oldest rollout reaches its deadline.
      return kube::ReconcileResult::requeue_after(pacer_.until_next_deadline(pacer_.deadline()));
    }
    auto patched =
        api_.patch(kind.resource, metadata.namespace_name, metadata.name, kube::PatchType::kJson,
                   template_patch(plan.pod_template, result.pod_template, metadata.resource_version,
                                  template_pointer(kind)),
                   {.field_manager = kFieldManager, .response = kube::ResponseFields::kMetadata});
    if (!patched) {
      if (starts_rollout) pacer_.cancel(key);
      const auto& error = patched.error();
      if (error.is(kube::ApiErrorKind::kNotFound)) return kube::ReconcileResult::done();
      if (error.is(kube::ApiErrorKind::kConflict)) {
        conflicts_.labels({"template"}).increment();
        return kube::ReconcileResult::retry(
            "changed since the cache saw it; reconciling again from fresh state");
      }
      if (error.is(kube::ApiErrorKind::kInvalid)) {
        // The API server refused the template we computed: report it. When that report cannot be
        // written either, retry (the next attempt reports again) instead of dropping it.
        pacer_.withdraw(key);
        const probe::ConditionSummary refused{
            false, probe::ConditionReason::kInvalidProbe,
            "The API server refused the rewritten template: " + error.message()};
        auto written = write_condition(workload, refused, stale_versions);
        return written.kind == kube::ReconcileResult::Kind::kDone
                   ? kube::ReconcileResult::terminal(refused.message)
                   : written;
      }
      return kube::ReconcileResult::retry(error.message(), error);
    }
    writes_.labels({"template"}).increment();
    stale_versions.insert(resource_version_of(*patched));
    if (starts_rollout) pacer_.started(key, generation_of(*patched, state.generation + 1));
    log_probes(workload, result, decision.rewrite);
    if (decision.rewrite) {
      remember_rewritten(key);
    } else {
      std::lock_guard lock(seen_mutex_);
      seen_rewritten_.erase(key);
    }
    if (stop.stop_requested()) {
      // Fenced (leadership lost, or stopping): no further write; the next leader finds the
      // template converged and writes the condition.
      return kube::ReconcileResult::retry("stopped after the template write");
    }
    std::string event_message = action.message;
    if (state.update_on_delete) event_message += kOnDeleteNote;
    events_.record(subject_of(kind, metadata, state), EventType::kNormal,
                   decision.rewrite ? "Rewritten" : "Restored",
                   decision.rewrite ? "RewriteProbes" : "RestoreProbes", event_message);
    if (state.rollout_waits_for_unready_pods) {
      events_.record(subject_of(kind, metadata, state), EventType::kWarning,
                     "RolloutWaitsForReadyPods", "WaitForRollout",
                     std::string(kWaitsForUnreadyPodsNote));
    }
  }
  return write_condition(workload, plan.condition, stale_versions);
}

void WorkloadReconciler::remember_rewritten(const std::string& key) {
  std::lock_guard lock(seen_mutex_);
  kube::LongLivedAllocations long_lived;  // kept as long as the workload is rewritten
  seen_rewritten_.insert(key);
}

std::optional<std::string> WorkloadReconciler::conflicting_writer(const Workload& workload) {
  const std::string& key = workload.key;
  const WorkloadState& state = workload.state;
  const auto now = clock_.now();
  const json condition = state.condition.decode();
  if (condition.is_object() &&
      condition.value("reason", "") ==
          probe::condition_reason_name(probe::ConditionReason::kConflictingWriter)) {
    // Stopped earlier (maybe by another process): stay stopped until someone changes the template.
    if (auto stopped = conflicting_writer_stop(state)) return stopped;
    logger_.info("retrying " + reference(workload.kind, workload.metadata) +
                 ": its pod template changed since meshprobe stopped rewriting it");
    reverts_.forget(key);
    return std::nullopt;
  }
  bool was_rewritten = false;
  {
    std::lock_guard lock(seen_mutex_);
    was_rewritten = seen_rewritten_.erase(key) > 0;
  }
  if (was_rewritten) {
    const std::string writer = latest_probe_writer(state.managers);
    reverts_.record_revert(key, writer, now);
    reverts_counter_.increment();
    logger_.warning(writer + " put the original probes of " +
                    reference(workload.kind, workload.metadata) + " back");
  }
  auto writer = reverts_.conflicting_writer(key, now);
  if (!writer) return std::nullopt;
  return "meshprobe stopped rewriting this " + std::string(workload.kind.kind) +
         ": field manager \"" + *writer +
         "\" keeps putting the original probes back, and every rewrite would roll the pods out "
         "again. Render the manifests with `meshprobe inject` before they reach that tool, or "
         "make it ignore the fields owned by the field manager meshprobe; then `kubectl rollout "
         "restart` asks meshprobe to retry.";
}

kube::ApiResult<json> WorkloadReconciler::write_state(const Workload& workload, const json& entry,
                                                      const std::string& base_version) {
  const WorkloadKind& kind = workload.kind;
  const kube::ObjectMeta& metadata = workload.metadata;
  const WorkloadState& state = workload.state;
  switch (kind.status) {
    case StatusStyle::kApplyCondition:
      return kube::apply(
          api_, kind.resource, metadata.namespace_name,
          status_condition_apply(kind, metadata.namespace_name, metadata.name, entry),
          kFieldManager, /*force=*/true, "status", kube::ResponseFields::kMetadata);
    case StatusStyle::kPatchConditionList: {
      json patch = json::array(
          {{{"op", "replace"}, {"path", "/metadata/resourceVersion"}, {"value", base_version}}});
      if (state.condition_index >= 0) {
        patch.push_back({{"op", "replace"},
                         {"path", "/status/conditions/" + std::to_string(state.condition_index)},
                         {"value", entry}});
      } else if (state.has_conditions) {
        patch.push_back({{"op", "add"}, {"path", "/status/conditions/-"}, {"value", entry}});
      } else if (state.has_status) {
        patch.push_back(
            {{"op", "add"}, {"path", "/status/conditions"}, {"value", json::array({entry})}});
      } else {
        patch.push_back({{"op", "add"},
                         {"path", "/status"},
                         {"value", {{"conditions", json::array({entry})}}}});
      }
      return api_.patch(kind.resource, metadata.namespace_name, metadata.name,
                        kube::PatchType::kJson, patch.dump(),
                        {.field_manager = kFieldManager,
                         .subresource = "status",
                         .response = kube::ResponseFields::kMetadata});
    }
    case StatusStyle::kAnnotations:
      break;
  }
  return api_.patch(kind.resource, metadata.namespace_name, metadata.name, kube::PatchType::kMerge,
                    state_annotations_patch(entry).dump(),
                    {.field_manager = kFieldManager, .response = kube::ResponseFields::kMetadata});
}

kube::ReconcileResult WorkloadReconciler::write_condition(const Workload& workload,
                                                          const probe::ConditionSummary& summary,
                                                          std::set<std::string>& stale_versions) {
  const WorkloadKind& kind = workload.kind;
  const kube::ObjectMeta& metadata = workload.metadata;
  conditions_.record(std::string(kind.kind), metadata.key(),
                     std::string(probe::condition_reason_name(summary.reason)));
  const Condition desired{std::string(probe::kConditionType), summary.status ? "True" : "False",
                          std::string(probe::condition_reason_name(summary.reason)),
                          summary.message, std::nullopt};
  const json condition = workload.state.condition.decode();
  const json existing = condition.is_null() ? json::array() : json::array({condition});
  auto entry =
      condition_to_write(existing, desired, kind.condition_shape, format_time(clock_.system_now()));
  kube::ReconcileResult outcome = kube::ReconcileResult::done();
  if (entry) {
    auto written = write_state(workload, *entry, newest_version(stale_versions));
    if (written) {
      writes_.labels({"status"}).increment();
      stale_versions.insert(resource_version_of(*written));
      if (summary.reason == probe::ConditionReason::kInvalidProbe ||
          summary.reason == probe::ConditionReason::kConflictingWriter ||
          summary.reason == probe::ConditionReason::kOwnedByController) {
        logger_.warning(reference(kind, metadata) + ": " + desired.reason + ": " + summary.message);
        events_.record(
            subject_of(kind, metadata, workload.state),
            summary.reason == probe::ConditionReason::kOwnedByController ? EventType::kNormal
                                                                         : EventType::kWarning,
            desired.reason,
            summary.reason == probe::ConditionReason::kConflictingWriter ? "StopRewriting"
                                                                         : "RewriteProbes",
            summary.message);
      }
    } else if (written.error().is(kube::ApiErrorKind::kConflict)) {
      conflicts_.labels({"status"}).increment();
      outcome = kube::ReconcileResult::retry(
          "writing the condition: changed since the cache saw it; reconciling again");
    } else if (!written.error().is(kube::ApiErrorKind::kNotFound)) {
      outcome = kube::ReconcileResult::retry("writing the condition: " + written.error().message(),
                                             written.error());
    }
  }
  if (stale_versions.size() > 1) {
    // The newest version is this reconcile's last write.
    expectations_.expect_written(workload.key, stale_versions, newest_version(stale_versions));
  }
  return outcome;
}

void WorkloadReconciler::log_probes(const Workload& workload, const probe::RewriteResult& result,
                                    bool rewrite) {
  for (const auto& report : result.probes) {
    const std::string where = std::string(probe::slot_name(report.slot)) + " of " +
                              reference(workload.kind, workload.metadata) + " container " +
                              report.container;
    if (report.outcome == probe::ProbeOutcome::kRewritten) {
      logger_.info("rewrote " + where + ": " + report.before + " → " + report.after);
    } else if (report.outcome == probe::ProbeOutcome::kRestored) {
      logger_.info("restored " + where + ": " + report.before + " → " + report.after);
    } else if (report.outcome == probe::ProbeOutcome::kInvalid ||
               report.outcome == probe::ProbeOutcome::kUserChanged) {
      logger_.warning(std::string(rewrite ? "did not rewrite " : "did not restore ") + where +
                      ": " + report.reason);
    }
  }
}

}  // namespace meshprobe::controller
