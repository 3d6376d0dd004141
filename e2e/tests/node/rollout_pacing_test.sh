#!/usr/bin/env bash
# Issue 14's rollout pacing on the real node: meshprobe installed into a namespace with 30
# meshed Deployments, all running, under STRICT, with maxConcurrentRollouts 5. Sampled about
# once a second until every one is rewritten and rolled out:
# - never more than 5 Deployments rewritten whose rollout has not finished (finished as the
#   controller reads it, docs/workloads.md: observed, updated, no old replicas, available);
# - the others wait with reason RolloutQueued on their condition, and the metrics show the
#   queue (meshprobe_rollouts_waiting) and the slots (meshprobe_rollouts_in_progress ≤ 5);
# - all 30 converge: rewritten, HealthProbesRewritten=True, rollout finished.
source "$(dirname "$0")/../../harness/lib.sh"
source "$(dirname "$0")/lib.sh"
node_setup
count=30
limit=5

node_manifest strict-mtls.yaml | e2e_apply >/dev/null
for ((i = 0; i < count; i++)); do
  printf -- '---\n'
  node_manifest paced-app.yaml | sed "s/@NAME@/paced-$(printf %02d "$i")/g"
done | e2e_apply >/dev/null

deployments() { e2e_kubectl get deployments --namespace "$E2E_NAMESPACE" -o json; }
# For each Deployment: rewritten (the agent in its template), finished (its rollout, as
# controller/operator/workload_kinds.cc reads a Deployment's), its condition's reason.
summary_filter='[.items[] | {
    rewritten: ([.spec.template.spec.initContainers[]?.name] | index("meshprobe-agent") != null),
    finished: ((.status.observedGeneration // -1) >= .metadata.generation
               and (.status.updatedReplicas // 0) >= (.spec.replicas // 1)
               and (.status.replicas // 0) <= (.status.updatedReplicas // 0)
               and (.status.availableReplicas // 0) >= (.status.updatedReplicas // 0)),
    reason: ([.status.conditions[]? | select(.type == "HealthProbesRewritten") | .reason][0] // "")}]'
all_running_unrewritten() {
  deployments | jq -e --argjson count "$count" "$summary_filter"' |
    length == $count and all(.finished and (.rewritten | not))' >/dev/null
}
e2e_eventually "the $count Deployments running before meshprobe is installed" 300 all_running_unrewritten

metrics_port=$(e2e_free_port)
node_start_controller --max-concurrent-rollouts "$limit" --metrics-bind-address "127.0.0.1:$metrics_port"
metric() { curl -sf --max-time 5 "http://127.0.0.1:$metrics_port/metrics" | awk -v name="$1" '$1 == name {print int($2)}'; }

max_unfinished=0 max_queued_conditions=0 max_waiting_metric=0 max_in_progress_metric=0
samples=0 converged=false
deadline=$((SECONDS + 600))
while ((SECONDS < deadline)); do
  sample=$(deployments | jq -c "$summary_filter"' | {
      unfinished: map(select(.rewritten and (.finished | not))) | length,
      queued: map(select(.reason == "RolloutQueued")) | length,
      done: map(select(.rewritten and .finished and .reason == "Rewritten")) | length}')
  unfinished=$(jq .unfinished <<<"$sample") queued=$(jq .queued <<<"$sample") done=$(jq .done <<<"$sample")
  waiting=$(metric meshprobe_rollouts_waiting) in_progress=$(metric meshprobe_rollouts_in_progress)
  samples=$((samples + 1))
  ((unfinished > max_unfinished)) && max_unfinished=$unfinished
  ((queued > max_queued_conditions)) && max_queued_conditions=$queued
  ((${waiting:-0} > max_waiting_metric)) && max_waiting_metric=${waiting:-0}
  ((${in_progress:-0} > max_in_progress_metric)) && max_in_progress_metric=${in_progress:-0}
  printf '%s unfinished=%d queued=%d done=%d waiting=%s in_progress=%s\n' "$(date -u +%T)" \
    "$unfinished" "$queued" "$done" "${waiting:-?}" "${in_progress:-?}"
  ((unfinished <= limit)) ||
    e2e_fail "$unfinished Deployments rewritten with their rollout unfinished at once (maxConcurrentRollouts $limit)"
  if ((done == count)); then converged=true; break; fi
  sleep 1
done
$converged || e2e_fail "not every Deployment converged in 600 s: $(deployments | jq -c "$summary_filter")"

echo "samples $samples, at most $max_unfinished unfinished rollouts at once (limit $limit)," \
  "at most $max_queued_conditions conditions RolloutQueued, meshprobe_rollouts_waiting up to" \
  "$max_waiting_metric, meshprobe_rollouts_in_progress up to $max_in_progress_metric"
((max_in_progress_metric <= limit)) ||
  e2e_fail "meshprobe_rollouts_in_progress reached $max_in_progress_metric (limit $limit)"
# Pacing happened: workloads waited, and said so on their condition and in the metrics.
((max_queued_conditions > 0)) || e2e_fail "no Deployment ever said RolloutQueued on its condition"
((max_waiting_metric > 0)) || e2e_fail "meshprobe_rollouts_waiting never showed the queue"
((max_unfinished > 1)) || e2e_fail "never more than one rollout at once: the rollouts were not concurrent"
started=$(metric meshprobe_rollouts_started_total)
((started == count)) || e2e_fail "meshprobe_rollouts_started_total is $started, expected $count (one rollout per Deployment)"
