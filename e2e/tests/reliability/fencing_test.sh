#!/usr/bin/env bash
# Fencing (issue 17): not one write after the Lease is lost. Two replicas with leader election
# (Lease 6 s, renew deadline 4 s, retry 1 s). The first leads, slowly (2 requests/s), with
# hundreds of Deployments queued; its connection to the API server goes through a TCP proxy
# that is cut: its renewals fail, it stops leading at the renew deadline, the second replica
# takes the Lease over, and the proxy lets the first back in at once. The audit log (one token
# per replica) shows no write of the first replica, of any kind and whatever its answer, after
# the second took the Lease; every Deployment converges with one template write in all and is
# rolled out once; the first replica exits 1 saying it lost the Lease.
# The namespace has a HealthProbePolicy "Always": the test does not depend on the mesh default.
source "$(dirname "$0")/../../harness/lib.sh"
source "$(dirname "$0")/../../harness/audit.sh"
source "$(dirname "$0")/lib.sh"
[[ -x ${MESHPROBE_TCP_PROXY:-} ]] || e2e_fail "MESHPROBE_TCP_PROXY (the meshprobe_tcp_proxy binary) is not set (CTest sets it)"
proxy_pid=
reliability_cleanup() { [[ -z $proxy_pid ]] || kill -TERM "$proxy_pid" 2>/dev/null || true; }
reliability_setup
count=${MESHPROBE_FENCING_DEPLOYMENTS:-300}
lease=meshprobe-controller  # the install's (config/rbac's Role allows no other)
e2e_kubectl delete lease "$lease" --namespace meshprobe-system --ignore-not-found >/dev/null
e2e_kubectl apply -f - >/dev/null <<YAML
apiVersion: meshprobe.io/v1alpha1
kind: HealthProbePolicy
metadata: {name: always, namespace: $E2E_NAMESPACE}
spec: {mode: Always}
YAML

# The proxy in front of the API server, for the first replica only.
server_port=${MESHPROBE_E2E_SERVER##*:}
server_port=${server_port%%/*}
proxy_out="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE.proxy"
"$MESHPROBE_TCP_PROXY" 127.0.0.1 "$server_port" >"$proxy_out" 2>&1 &
proxy_pid=$!
proxy_listening() { [[ -s $proxy_out ]]; }
e2e_eventually "the proxy to listen" 10 proxy_listening
proxy_port=$(head -1 "$proxy_out")

config_first="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE.first.yaml"
config_second="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE.second.yaml"
controller_config "$config_first" "workers: 2" "apiQPS: 2" "apiBurst: 2"
controller_config "$config_second" "workers: 4" "apiQPS: 50" "apiBurst: 100"
holder() { e2e_kubectl get lease "$lease" --namespace meshprobe-system -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
holder_is() { [[ $(holder) == "$1" ]] || { echo "holder: $(holder)"; return 1; }; }
ready() { curl -sf "http://$(sed -n 's/^healthProbeBindAddress: "\(.*\)"/\1/p' "$1")/readyz" >/dev/null; }

from=$(audit_time)
start_controller first "$config_first" "https://127.0.0.1:$proxy_port"
e2e_eventually "the first replica to lead" 30 holder_is "$E2E_NAMESPACE-first"
start_controller second "$config_second"
e2e_eventually "the second replica to be ready (caches synced)" 30 ready "$config_second"

create_deployments 0 "$count"
at_least_some() { (($(count_converged) >= 10)); }
e2e_eventually "the leader to rewrite some Deployments" 120 at_least_some
kill -USR1 "$proxy_pid"  # cut
cut_at=$(audit_time)
cut_seconds=$SECONDS
converged_at_cut=$(count_converged)
e2e_eventually "the second replica to take the Lease" 30 holder_is "$E2E_NAMESPACE-second"
kill -USR2 "$proxy_pid"  # the first replica's connection comes back
echo "handover $((SECONDS - cut_seconds)) s after the cut; $converged_at_cut of $count converged at the cut"
((count - converged_at_cut >= 100)) || e2e_fail "the first replica had converged $converged_at_cut of $count before the cut; too few keys were queued"

first_exited() { ! kill -0 "${controller_pid[first]}" 2>/dev/null; }
e2e_eventually "the first replica to exit" 60 first_exited
first_status=0
wait "${controller_pid[first]}" || first_status=$?
unset 'controller_pid[first]'
((first_status == 1)) || e2e_fail "the first replica exited $first_status (want 1: it lost the Lease)"
grep -q "lost the Lease meshprobe-system/$lease: exiting" "${controller_log[first]}" ||
  e2e_fail "the first replica did not say it lost the Lease: $(tail -5 "${controller_log[first]}")"

e2e_eventually "the second replica to converge every Deployment" 240 all_converged "$count"
sleep 2
to=$(audit_time)
rolled_out_once || e2e_fail "$(rolled_out_once)"

# The moment the Lease changed hands: the second replica's first successful Lease write.
handover=$(audit_requests "${controller_id[second]}" "$cut_at" "$to" |
  awk '$2 ~ /^(create|update)$/ && $3 == "leases" && $4 ~ /^2/ && !found {print $1; found = 1}')
[[ -n $handover ]] || e2e_fail "no Lease write of the second replica after the cut in the audit log"
late_writes=$(audit_count_writes "${controller_id[first]}" "$handover" "$to")
first_writes=$(audit_count_writes "${controller_id[first]}" "$from" "$handover")
echo "audit log: the first replica made $first_writes writes before the handover at $handover," \
  "$late_writes after it"
if ((late_writes != 0)); then
  audit_requests "${controller_id[first]}" "$handover" "$to" | awk '$2 ~ /^(create|update|patch|delete)$/' | head -20 >&2
  e2e_fail "the first replica wrote $late_writes times after it lost the Lease"
fi

# One successful template write per Deployment, whichever replica made it.
template_writes=$(for id in "${controller_id[first]}" "${controller_id[second]}"; do
  audit_requests "$id" "$from" "$to"
done | awk -v path="/namespaces/$E2E_NAMESPACE/deployments/" '
  $2 ~ /^(update|patch)$/ && $3 == "deployments" && $4 ~ /^2/ && index($5, path) {
    name = substr($5, index($5, path) + length(path)); sub(/\?.*/, "", name); writes[name]++
  }
  END { for (name in writes) print name, writes[name] }')
distribution=$(awk '{print $2}' <<<"$template_writes" | sort | uniq -c | awk '{printf "%s Deployments with %s template writes; ", $1, $2}')
echo "template writes: $distribution"
written=$(grep -c . <<<"$template_writes" || true)
((written == count)) || e2e_fail "template writes for $written of $count Deployments"
more=$(awk '$2 != 1' <<<"$template_writes")
[[ -z $more ]] || e2e_fail "Deployments with more than one template write: $more"
