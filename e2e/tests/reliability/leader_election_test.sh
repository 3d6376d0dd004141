#!/usr/bin/env bash
# Two replicas with leader election on a Lease (6 s lease, 4 s renew deadline, 1 s retry); the
# leader is killed with SIGKILL in the middle of rewriting 60 Deployments. The other replica
# takes the Lease within 20 s and finishes; never two writers: the audit log (each replica has
# its own token) shows every write of the first replica before the kill and every write of the
# second after it, the second wrote nothing (not even the Lease) while the first led, and the
# Lease changed hands exactly once. No Deployment is rolled out twice.
source "$(dirname "$0")/../../harness/lib.sh"
source "$(dirname "$0")/../../harness/audit.sh"
source "$(dirname "$0")/lib.sh"
reliability_setup
count=60
lease=meshprobe-controller  # the install's (config/rbac's Role allows no other)
e2e_kubectl delete lease "$lease" --namespace meshprobe-system --ignore-not-found >/dev/null

config_first="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE.first.yaml"
config_second="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE.second.yaml"
controller_config "$config_first" "workers: 2" "apiQPS: 10" "apiBurst: 10"
controller_config "$config_second" "workers: 2" "apiQPS: 10" "apiBurst: 10"
holder() { e2e_kubectl get lease "$lease" --namespace meshprobe-system -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
holder_is() { [[ $(holder) == "$1" ]] || { echo "holder: $(holder)"; return 1; }; }
ready() { curl -sf "http://$(sed -n 's/^healthProbeBindAddress: "\(.*\)"/\1/p' "$1")/readyz" >/dev/null; }

from=$(audit_time)
start_controller first "$config_first"
e2e_eventually "the first replica to lead" 30 holder_is "$E2E_NAMESPACE-first"
start_controller second "$config_second"
e2e_eventually "the second replica to be ready (caches synced)" 30 ready "$config_second"
transitions_before=$(e2e_kubectl get lease "$lease" --namespace meshprobe-system -o jsonpath='{.spec.leaseTransitions}')

create_deployments 0 "$count"
at_least_some() { (($(count_converged) >= 8)); }
e2e_eventually "the leader to rewrite some Deployments" 60 at_least_some
killed_at=$(audit_time)
killed_seconds=$SECONDS
kill -KILL "${controller_pid[first]}"
wait "${controller_pid[first]}" 2>/dev/null || true
unset 'controller_pid[first]'
converged_at_kill=$(count_converged)
((converged_at_kill < count)) || e2e_fail "the leader finished before the kill; nothing was tested"

e2e_eventually "the second replica to take the Lease" 20 holder_is "$E2E_NAMESPACE-second"
echo "failover after $((SECONDS - killed_seconds)) s ($converged_at_kill of $count converged at the kill)"
e2e_eventually "the second replica to converge every Deployment" 120 all_converged "$count"
sleep 2
to=$(audit_time)
rolled_out_once || e2e_fail "$(rolled_out_once)"

transitions_after=$(e2e_kubectl get lease "$lease" --namespace meshprobe-system -o jsonpath='{.spec.leaseTransitions}')
((transitions_after == transitions_before + 1)) ||
  e2e_fail "the Lease changed hands $((transitions_after - transitions_before)) times (want once)"

writes_of() {  # writes_of REPLICA: "TIME RESOURCE" of its successful writes in [from, to)
  audit_requests "${controller_id[$1]}" "$from" "$to" |
    awk '$2 ~ /^(create|update|patch|delete)$/ && $4 ~ /^2/ {print $1, $3}'
}
first_writes=$(writes_of first | grep -v ' leases$' || true)
second_writes=$(writes_of second | grep -v ' leases$' || true)
[[ -n $first_writes && -n $second_writes ]] || e2e_fail "each replica should have written: first $(wc -l <<<"$first_writes"), second $(wc -l <<<"$second_writes")"
first_last=$(tail -1 <<<"$first_writes" | cut -d' ' -f1)
second_first=$(head -1 <<<"$second_writes" | cut -d' ' -f1)
echo "first replica: $(wc -l <<<"$first_writes") writes, the last at $first_last; killed at $killed_at;" \
  "second replica: $(wc -l <<<"$second_writes") writes, the first at $second_first"
[[ $first_last < $killed_at ]] || e2e_fail "the first replica wrote after it was killed ($first_last)"
[[ $second_first > $killed_at ]] || e2e_fail "the second replica wrote at $second_first, while the first led (killed at $killed_at)"
second_lease_writes_before=$(writes_of second | awk -v killed="$killed_at" '$2 == "leases" && $1 < killed' | wc -l)
((second_lease_writes_before == 0)) || e2e_fail "the second replica wrote the Lease $second_lease_writes_before times while the first led"
