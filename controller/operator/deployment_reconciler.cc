#include "operator/deployment_reconciler.h"

#include <algorithm>

#include "operator/conditions.h"
#include "operator/workload_plan.h"
#include "probe/object_fields.h"

namespace meshprobe::controller {
namespace {

using nlohmann::json;

const std::string kDeploymentApiVersion = "apps/v1";

std::string reference(const kube::ObjectMeta& metadata) {
  return metadata.namespace_name + "/" + metadata.name;
}

EventSubject subject_of(const kube::ObjectMeta& metadata, const DeploymentState& state) {
  return {kDeploymentApiVersion, "Deployment", metadata.namespace_name,
          metadata.name,         state.uid,    metadata.resource_version};
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
                           const std::string& resource_version) {
  // Setting metadata.resourceVersion makes the write conditional: a Deployment changed since the
  // cache saw it gives 409 Conflict. (A JSON-patch "test" op would give 422 Invalid instead,
  // indistinguishable from a template the API server refuses.)
  json patch = json::array(
      {{{"op", "replace"}, {"path", "/metadata/resourceVersion"}, {"value", resource_version}}});
  for (auto operation : json::diff(current, desired, "/spec/template"))
    patch.push_back(std::move(operation));
  return patch.dump();
}

json status_condition_apply(const std::string& namespace_name, const std::string& name,
                            const json& condition) {
  return {{"apiVersion", kDeploymentApiVersion},
          {"kind", "Deployment"},
          {"metadata", {{"namespace", namespace_name}, {"name", name}}},
          {"status", {{"conditions", json::array({condition})}}}};
}

DeploymentReconciler::DeploymentReconciler(const ClusterCache& cache, kube::KubernetesApi& api,
                                           EventRecorder& events, RevertTracker& reverts,
                                           kube::Clock& clock, kube::MetricsRegistry& metrics,
                                           kube::Logger& logger,
                                           DeploymentReconcilerOptions options)
    : cache_(cache),
      api_(api),
      events_(events),
      reverts_(reverts),
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
                       "Rewritten Deployments found with their original probes put back by another "
                       "field manager.")
              .labels({})) {}

kube::ReconcileResult DeploymentReconciler::reconcile(const std::string& key,
                                                      std::stop_token stop) {
  auto entry = cache_.deployments.get(key);
  if (!entry) {  // deleted: forget everything about it
    conditions_.forget("Deployment", key);
    expectations_.forget(key);
    reverts_.forget(key);
    std::lock_guard lock(seen_mutex_);
    seen_rewritten_.erase(key);
    return kube::ReconcileResult::done();
  }
  const kube::ObjectMeta& metadata = entry->metadata;
  const DeploymentState& state = entry->value;
  if (options_.excluded_namespaces.contains(metadata.namespace_name))
    return kube::ReconcileResult::done();
  if (!expectations_.satisfied(key, metadata.resource_version)) {
    // Our last write has not reached the cache yet; its watch event enqueues the key again.
    return kube::ReconcileResult::requeue_after(expectations_.remaining(key));
  }

  // What to do, as `meshprobe preview` shows it (workload_plan.h); the rest is the writing.
  const WorkloadPlan plan = plan_workload(cache_, options_, metadata, state);
  const probe::Decision& decision = plan.decision;
  std::set<std::string> stale_versions{metadata.resource_version};
  if (!plan.result) {
    auto written = write_condition(metadata, state, plan.condition, stale_versions);
    return written.kind == kube::ReconcileResult::Kind::kDone
               ? kube::ReconcileResult::terminal(plan.condition.message)
               : written;
  }
  const probe::RewriteResult& result = *plan.result;
  if (decision.rewrite && !result.changed) {  // converged: rewritten as meshprobe wants it
    std::lock_guard lock(seen_mutex_);
    seen_rewritten_.insert(key);
  }
  if (decision.rewrite && result.changed) {
    if (auto writer = conflicting_writer(metadata, state)) {
      return write_condition(metadata, state,
                             {false, probe::ConditionReason::kConflictingWriter, *writer},
                             stale_versions);
    }
  }

  // The condition describes the state the template converges to (plan.condition), so it is
  // written once; the Event describes what this write did.
  const probe::ConditionSummary action = probe::summarize(decision, result);
  if (result.changed) {
    auto patched = api_.patch(
        kube::resources::kDeployments, metadata.namespace_name, metadata.name,
        kube::PatchType::kJson,
        template_patch(plan.pod_template, result.pod_template, metadata.resource_version),
        {.field_manager = kFieldManager, .response = kube::ResponseFields::kMetadata});
    if (!patched) {
      const auto& error = patched.error();
      if (error.is(kube::ApiErrorKind::kNotFound)) return kube::ReconcileResult::done();
      if (error.is(kube::ApiErrorKind::kConflict)) {
        conflicts_.labels({"template"}).increment();
        return kube::ReconcileResult::retry(
            "changed since the cache saw it; reconciling again from fresh state");
      }
      if (error.is(
              kube::ApiErrorKind::kInvalid)) {  // the API server refused the template we computed
        const probe::ConditionSummary refused{
            false, probe::ConditionReason::kInvalidProbe,
            "The API server refused the rewritten template: " + error.message()};
        write_condition(metadata, state, refused, stale_versions);
        return kube::ReconcileResult::terminal(refused.message);
      }
      return kube::ReconcileResult::retry(error.message(), error);
    }
    writes_.labels({"template"}).increment();
    stale_versions.insert(resource_version_of(*patched));
    log_probes(metadata, result, decision.rewrite);
    if (stop.stop_requested()) {
      // Fenced (leadership lost, or stopping): no further write; the next leader finds the
      // template converged and writes the condition.
      return kube::ReconcileResult::retry("stopped after the template write");
    }
    events_.record(subject_of(metadata, state), EventType::kNormal,
                   decision.rewrite ? "Rewritten" : "Restored",
                   decision.rewrite ? "RewriteProbes" : "RestoreProbes", action.message);
    std::lock_guard lock(seen_mutex_);
    if (decision.rewrite) {
      seen_rewritten_.insert(key);
    } else {
      seen_rewritten_.erase(key);
    }
  }
  return write_condition(metadata, state, plan.condition, stale_versions);
}

std::optional<std::string> DeploymentReconciler::conflicting_writer(
    const kube::ObjectMeta& metadata, const DeploymentState& state) {
  const std::string key = metadata.key();
  const auto now = clock_.now();
  const json condition = state.condition.decode();
  if (condition.is_object() &&
      condition.value("reason", "") ==
          probe::condition_reason_name(probe::ConditionReason::kConflictingWriter)) {
    // Stopped earlier (maybe by another process): stay stopped until someone changes the template.
    if (auto stop = conflicting_writer_stop(state)) return stop;
    logger_.info("retrying " + reference(metadata) +
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
    logger_.warning(writer + " put the original probes of " + reference(metadata) + " back");
  }
  auto writer = reverts_.conflicting_writer(key, now);
  if (!writer) return std::nullopt;
  return "meshprobe stopped rewriting this Deployment: field manager \"" + *writer +
         "\" keeps putting the original probes back, and every rewrite would roll the pods out "
         "again. "
         "Render the manifests with `meshprobe inject` before they reach that tool, or make it "
         "ignore the "
         "fields owned by the field manager meshprobe; then `kubectl rollout restart` asks "
         "meshprobe to retry.";
}

kube::ReconcileResult DeploymentReconciler::write_condition(const kube::ObjectMeta& metadata,
                                                            const DeploymentState& state,
                                                            const probe::ConditionSummary& summary,
                                                            std::set<std::string>& stale_versions) {
  const std::string key = metadata.key();
  conditions_.record("Deployment", key, std::string(probe::condition_reason_name(summary.reason)));
  const Condition desired{std::string(probe::kConditionType), summary.status ? "True" : "False",
                          std::string(probe::condition_reason_name(summary.reason)),
                          summary.message, std::nullopt};
  const json condition = state.condition.decode();
  const json existing = condition.is_null() ? json::array() : json::array({condition});
  auto entry = condition_to_write(existing, desired, ConditionShape::kDeployment,
                                  format_time(clock_.system_now()));
  kube::ReconcileResult outcome = kube::ReconcileResult::done();
  if (entry) {
    auto applied = kube::apply(
        api_, kube::resources::kDeployments, metadata.namespace_name,
        status_condition_apply(metadata.namespace_name, metadata.name, *entry), kFieldManager,
        /*force=*/true, "status", kube::ResponseFields::kMetadata);
    if (applied) {
      writes_.labels({"status"}).increment();
      stale_versions.insert(resource_version_of(*applied));
      if (summary.reason == probe::ConditionReason::kInvalidProbe ||
          summary.reason == probe::ConditionReason::kConflictingWriter) {
        logger_.warning(reference(metadata) + ": " + desired.reason + ": " + summary.message);
        events_.record(subject_of(metadata, state), EventType::kWarning, desired.reason,
                       summary.reason == probe::ConditionReason::kConflictingWriter
                           ? "StopRewriting"
                           : "RewriteProbes",
                       summary.message);
      }
    } else if (!applied.error().is(kube::ApiErrorKind::kNotFound)) {
      outcome = kube::ReconcileResult::retry("writing the condition: " + applied.error().message(),
                                             applied.error());
    }
  }
  if (stale_versions.size() > 1) {
    // The newest version is this reconcile's last write (kube-apiserver's versions increase).
    const std::string newest = *std::max_element(
        stale_versions.begin(), stale_versions.end(),
        [](const std::string& left, const std::string& right) {
          return left.size() != right.size() ? left.size() < right.size() : left < right;
        });
    expectations_.expect_written(key, stale_versions, newest);
  }
  return outcome;
}

void DeploymentReconciler::log_probes(const kube::ObjectMeta& metadata,
                                      const probe::RewriteResult& result, bool rewrite) {
  for (const auto& report : result.probes) {
    const std::string where = std::string(probe::slot_name(report.slot)) + " of " +
                              reference(metadata) + " container " + report.container;
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
