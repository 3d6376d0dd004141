#!/usr/bin/env bash
# kill -9 of the controller in the middle of rewriting 60 Deployments, then a new process: every
# Deployment converges, and none is rolled out twice (generation 2, two ReplicaSets, exactly one
# template write each in the audit log, across both processes).
source "$(dirname "$0")/../../harness/lib.sh"
source "$(dirname "$0")/../../harness/audit.sh"
source "$(dirname "$0")/lib.sh"
reliability_setup
count=60

# Slow enough (10 requests/s) that the kill lands mid-way.
config="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE.controller.yaml"
controller_config "$config" "workers: 2" "apiQPS: 10" "apiBurst: 10" "leaderElection: {enabled: false}"
from=$(audit_time)
create_deployments 0 "$count"
start_controller first "$config"
at_least_some() { (($(count_converged) >= 8)); }
e2e_eventually "the first controller to rewrite some Deployments" 60 at_least_some
kill -KILL "${controller_pid[first]}"
wait "${controller_pid[first]}" 2>/dev/null || true
unset 'controller_pid[first]'
converged_at_kill=$(count_converged)
echo "killed the controller with $converged_at_kill of $count converged"
((converged_at_kill < count)) || e2e_fail "the controller finished before the kill; nothing was tested"

start_controller second "$config"
e2e_eventually "the second controller to converge every Deployment" 120 all_converged "$count"
sleep 3  # a write the second controller should not make would come now
to=$(audit_time)
rolled_out_once || e2e_fail "$(rolled_out_once)"

template_writes=$(($(writes_in_namespace "${controller_id[first]}" "$from" "$to" '^deployments$') +
  $(writes_in_namespace "${controller_id[second]}" "$from" "$to" '^deployments$')))
status_writes=$(($(writes_in_namespace "${controller_id[first]}" "$from" "$to" '^deployments/status$') +
  $(writes_in_namespace "${controller_id[second]}" "$from" "$to" '^deployments/status$')))
echo "template writes $template_writes, status writes $status_writes for $count Deployments"
((template_writes == count)) || e2e_fail "$template_writes successful template writes for $count Deployments (want one each)"
((status_writes == count)) || e2e_fail "$status_writes successful status writes for $count Deployments (want one each)"
