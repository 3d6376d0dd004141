#!/usr/bin/env bash
# A real 410 Gone on the controller's watches: the controller is frozen (SIGSTOP, as a long
# pause of its node or process would); meanwhile Deployments are created and deleted, etcd is
# compacted to its current revision, and kube-apiserver restarts (cutting every watch; its
# new watch cache starts after the controller's resourceVersions). Woken up (SIGCONT), the
# controller reconnects its watches from resourceVersions that are gone, and kube-apiserver
# answers 410 Gone ("too old resource version"; etcd itself would say the same after the
# compaction). It must relist (its reflector metrics say so) and converge, without a restart.
# (Frozen, so that it reconnects only once kube-apiserver is ready: a watch that reaches a
# starting kube-apiserver before its RBAC caches are filled gets 403 and relists for that
# reason instead; apiserver_outage_test.sh covers that path.)
source "$(dirname "$0")/../../harness/lib.sh"
source "$(dirname "$0")/../../harness/audit.sh"
source "$(dirname "$0")/lib.sh"
source "$repository/e2e/cluster/lib.sh"  # component_running
reliability_setup
apiserver="$repository/e2e/cluster/apiserver"
reliability_cleanup() {
  [[ -z ${controller_pid[only]:-} ]] || kill -CONT "${controller_pid[only]}" 2>/dev/null || true
  component_running "$MESHPROBE_E2E_STATE_DIR/pids/kube-apiserver.pid" ||
    "$apiserver" start "$MESHPROBE_E2E_STATE_DIR" >&2 || true
}

config="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE.controller.yaml"
controller_config "$config" "leaderElection: {enabled: false}"
create_deployments 0 10
start_controller only "$config"
e2e_eventually "the controller to converge 10 Deployments" 90 all_converged 10
gone_before=$(metric_value "$config" reflector_watch_restarts_total 'name="deployments"' 'reason="gone"')
lists_before=$(metric_value "$config" reflector_lists_total 'name="deployments"')

kill -STOP "${controller_pid[only]}"
create_deployments 10 5
e2e_kubectl delete deployment app-000 --namespace "$E2E_NAMESPACE" >/dev/null
etcd=$(tr '\0' '\n' <"/proc/$(cut -d' ' -f1 "$MESHPROBE_E2E_STATE_DIR/pids/kube-apiserver.pid")/cmdline" |
  sed -n 's/^--etcd-servers=//p')
revision=$(curl -sf -X POST "$etcd/v3/kv/range" -d '{"key":"Lw=="}' | jq -r .header.revision)
curl -sf -X POST "$etcd/v3/kv/compaction" -d "{\"revision\":\"$revision\",\"physical\":true}" >/dev/null
echo "compacted etcd at revision $revision"
"$apiserver" stop "$MESHPROBE_E2E_STATE_DIR"
"$apiserver" start "$MESHPROBE_E2E_STATE_DIR"
kill -CONT "${controller_pid[only]}"
back_at=$SECONDS

relisted() {
  local gone lists
  gone=$(metric_value "$config" reflector_watch_restarts_total 'name="deployments"' 'reason="gone"')
  lists=$(metric_value "$config" reflector_lists_total 'name="deployments"')
  ((gone > gone_before && lists > lists_before)) || { echo "gone restarts $gone (before $gone_before), lists $lists (before $lists_before)"; return 1; }
}
e2e_eventually "the controller's Deployment watch to get 410 Gone and relist" 60 relisted
e2e_eventually "the controller to rewrite what was created meanwhile" $((60 - (SECONDS - back_at))) all_rewritten 14
echo "410 Gone, relisted and converged $((SECONDS - back_at)) s after kube-apiserver was back"
kill -0 "${controller_pid[only]}" || e2e_fail "the controller exited"
# kube-controller-manager was cut off too, and its watches got 403 from the starting
# kube-apiserver: it may take a while to observe the rewrites.
e2e_eventually "each Deployment rolled out once" 120 rolled_out_once
