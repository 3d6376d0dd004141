#!/usr/bin/env bash
# A real 410 Gone on the controller's watch: its kube-apiserver stops; through a second
# kube-apiserver on the same etcd the cluster changes and etcd is compacted to its current
# revision; the first comes back with an empty watch cache that starts after the controller's
# resourceVersion, so the controller's next watch of Deployments gets 410 Gone ("too old
# resource version"; etcd would answer the same after the compaction). The controller must
# relist (its reflector metrics say so) and converge what changed, without a restart.
source "$(dirname "$0")/../../harness/lib.sh"
source "$(dirname "$0")/../../harness/audit.sh"
source "$(dirname "$0")/lib.sh"
source "$repository/e2e/cluster/lib.sh"  # component_running
reliability_setup
apiserver="$repository/e2e/cluster/apiserver"
second_apiserver="kube-apiserver-$E2E_NAMESPACE"
reliability_cleanup() {
  component_running "$MESHPROBE_E2E_STATE_DIR/pids/kube-apiserver.pid" ||
    "$apiserver" start "$MESHPROBE_E2E_STATE_DIR" >&2 || true
  "$apiserver" remove "$MESHPROBE_E2E_STATE_DIR" "$second_apiserver" >&2 || true
}

config="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE.controller.yaml"
controller_config "$config" "leaderElection: {enabled: false}"
create_deployments 0 10
start_controller only "$config"
e2e_eventually "the controller to converge 10 Deployments" 90 all_converged 10
gone_before=$(metric_value "$config" reflector_watch_restarts_total 'name="deployments"' 'reason="gone"')
lists_before=$(metric_value "$config" reflector_lists_total 'name="deployments"')

other=$("$apiserver" add "$MESHPROBE_E2E_STATE_DIR" "$second_apiserver")
"$apiserver" stop "$MESHPROBE_E2E_STATE_DIR"
create_deployments 10 5 "$other"
e2e_kubectl --server="$other" delete deployment app-000 --namespace "$E2E_NAMESPACE" >/dev/null
etcd=$(tr '\0' '\n' <"$MESHPROBE_E2E_STATE_DIR/pids/kube-apiserver.cmdline" | sed -n 's/^--etcd-servers=//p')
revision=$(curl -sf -X POST "$etcd/v3/kv/range" -d '{"key":"Lw=="}' | jq -r .header.revision)
curl -sf -X POST "$etcd/v3/kv/compaction" -d "{\"revision\":\"$revision\",\"physical\":true}" >/dev/null
echo "compacted etcd at revision $revision"
"$apiserver" start "$MESHPROBE_E2E_STATE_DIR"
back_at=$SECONDS

relisted() {
  local gone lists
  gone=$(metric_value "$config" reflector_watch_restarts_total 'name="deployments"' 'reason="gone"')
  lists=$(metric_value "$config" reflector_lists_total 'name="deployments"')
  ((gone > gone_before && lists > lists_before)) || { echo "gone restarts $gone (before $gone_before), lists $lists (before $lists_before)"; return 1; }
}
e2e_eventually "the controller's Deployment watch to get 410 Gone and relist" 60 relisted
e2e_eventually "the controller to rewrite what was created meanwhile" $((60 - (SECONDS - back_at))) all_converged 14
echo "410 Gone, relisted and converged $((SECONDS - back_at)) s after kube-apiserver was back"
kill -0 "${controller_pid[only]}" || e2e_fail "the controller exited"
rolled_out_once || e2e_fail "$(rolled_out_once)"
