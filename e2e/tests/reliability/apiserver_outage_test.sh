#!/usr/bin/env bash
# The controller's kube-apiserver stops for 20 s and starts again. Meanwhile the cluster goes on
# through a second kube-apiserver on the same etcd (as in a highly available control plane):
# new Deployments, and Deployments opted out by their template annotation. The same controller
# process (no restart) applies all of it within 60 s of its API server's return, and rolls no
# Deployment out more than needed.
source "$(dirname "$0")/../../harness/lib.sh"
source "$(dirname "$0")/../../harness/audit.sh"
source "$(dirname "$0")/lib.sh"
source "$repository/e2e/cluster/lib.sh"  # component_running
reliability_setup
apiserver="$repository/e2e/cluster/apiserver"
second_apiserver="kube-apiserver-$E2E_NAMESPACE"
reliability_cleanup() {
  # Whatever happened, the cluster leaves with its own kube-apiserver running and no second one.
  component_running "$MESHPROBE_E2E_STATE_DIR/pids/kube-apiserver.pid" ||
    "$apiserver" start "$MESHPROBE_E2E_STATE_DIR" >&2 || true
  "$apiserver" remove "$MESHPROBE_E2E_STATE_DIR" "$second_apiserver" >&2 || true
}

config="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE.controller.yaml"
controller_config "$config" "leaderElection: {enabled: false}"
create_deployments 0 20
start_controller only "$config"
e2e_eventually "the controller to converge 20 Deployments" 90 all_converged 20

other=$("$apiserver" add "$MESHPROBE_E2E_STATE_DIR" "$second_apiserver")
stopped_at=$SECONDS
"$apiserver" stop "$MESHPROBE_E2E_STATE_DIR"
# While the controller's API server is away: 10 new Deployments, 5 opted out.
create_deployments 20 10 "$other"
for index in 0 1 2 3 4; do
  e2e_kubectl --server="$other" patch deployment "app-00$index" --namespace "$E2E_NAMESPACE" --type=merge \
    -p '{"spec":{"template":{"metadata":{"annotations":{"sidecar.istio.io/rewriteAppHTTPProbers":"false"}}}}}' >/dev/null
done
sleep $((20 - (SECONDS - stopped_at)))
"$apiserver" start "$MESHPROBE_E2E_STATE_DIR"
back_at=$SECONDS
kill -0 "${controller_pid[only]}" || e2e_fail "the controller exited while its API server was away"

opted_out_restored() {
  deployments_json | jq -e "[.items[] | select(.metadata.name | test(\"^app-00[0-4]$\"))
    | select(($jq_rewritten | not) and ($jq_condition).reason == \"DisabledByAnnotation\")] | length == 5" >/dev/null ||
    { echo "the opted-out Deployments: $(deployments_json | jq -c "[.items[] | select(.metadata.name | test(\"^app-00[0-4]$\")) | {name: .metadata.name, condition: ($jq_condition).reason}]")"; return 1; }
}
new_converged() {
  deployments_json | jq -e "[.items[] | select(.metadata.name >= \"app-020\")
    | select($jq_rewritten and ($jq_condition).status == \"True\")] | length == 10" >/dev/null ||
    { echo "not all of app-020..app-029 rewritten"; return 1; }
}
e2e_eventually "the controller to rewrite the 10 Deployments created meanwhile" 60 new_converged
e2e_eventually "the controller to restore the 5 opted out meanwhile" $((60 - (SECONDS - back_at))) opted_out_restored
echo "converged $((SECONDS - back_at)) s after kube-apiserver was back"
kill -0 "${controller_pid[only]}" || e2e_fail "the controller exited"
[[ $(grep -c "starting as" "${controller_log[only]}") == 1 ]] || e2e_fail "the controller started more than once"

# Untouched Deployments were not written again; the new ones once, the opted-out ones once more.
# (kube-controller-manager was cut off too: give it time to catch up.)
e2e_eventually "each Deployment rolled out once" 120 rolled_out_once app-005 app-010 app-019 app-020 app-029
