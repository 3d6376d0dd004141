#!/usr/bin/env bash
# The seed's global switch, for real, on the node, with the controller (`meshprobe controller`
# with the RBAC of config/rbac) instead of `meshprobe inject`: the controller rewrites the
# seed's Deployments (READY 3/3); the seed's pipeline
#   kubectl get cm istio-sidecar-injector -n istio-system -o yaml |
#     sed -e 's/"rewriteAppHTTPProbe": true/"rewriteAppHTTPProbe": false/' | kubectl apply -f -
# rolls them back to their original probes (the agent goes away, the kubelet's HTTP probe fails
# under STRICT again), and the reverse sed brings them back to Ready.
source "$(dirname "$0")/../../harness/lib.sh"
source "$(dirname "$0")/lib.sh"
node_setup
node_start_controller
# The injector ConfigMap is the cluster's: a failure half way must not leave rewriting off for
# the tests that run after this one.
_seed_toggle_teardown() {
  local status=$?
  if global_rewrite_is false; then (set_global_rewrite false true) || true; fi
  (exit "$status")
  _node_stop_controller
}
trap _seed_toggle_teardown EXIT

injector() { e2e_kubectl get configmap istio-sidecar-injector --namespace istio-system "$@"; }
set_global_rewrite() {
  local from=$1 to=$2
  # The seed's pipeline, word for word but for kubectl's path.
  injector -o yaml | sed -e "s/\"rewriteAppHTTPProbe\": $from/\"rewriteAppHTTPProbe\": $to/" |
    e2e_kubectl apply -f - >/dev/null
  global_rewrite_is "$to" ||
    e2e_fail "the seed's sed did not set rewriteAppHTTPProbe to $to: $(injector -o jsonpath='{.data.values}')"
}
rewritten() {
  [[ $(e2e_kubectl get deployment "$1" --namespace "$E2E_NAMESPACE" \
    -o jsonpath='{.spec.template.spec.initContainers[*].name}') == *meshprobe-agent* ]]
}
restored() { ! rewritten "$1"; }
pod_ready_column() {
  e2e_kubectl get pod "$(node_pod "$1")" --namespace "$E2E_NAMESPACE" --no-headers | awk '{print $2, $3}'
}
ready_column_is() { [[ $(pod_ready_column "$1") == "$2" ]]; }
global_rewrite_is() { [[ $(injector -o jsonpath='{.data.values}') == *"\"rewriteAppHTTPProbe\": $1"* ]]; }
all_ready_with_agent() {
  local deployment
  for deployment in liveness-http liveness-grpc readiness-tcp; do
    rewritten "$deployment" || { echo "$deployment is not rewritten"; return 1; }
    node_deployment_ready "$deployment" >/dev/null || { echo "$deployment has no Ready pod"; return 1; }
    [[ $(pod_ready_column "$deployment") == "3/3 Running" ]] || { pod_ready_column "$deployment"; return 1; }
  done
}

node_manifest strict-mtls.yaml | e2e_apply >/dev/null
node_manifest seed-app.yaml | e2e_apply >/dev/null
e2e_eventually "the controller to create the injector ConfigMap with rewriting on" 60 global_rewrite_is true
e2e_eventually "the controller to rewrite the Deployments and their pods to be READY 3/3" 180 all_ready_with_agent
e2e_kubectl get pods --namespace "$E2E_NAMESPACE" -o wide

set_global_rewrite true false
for deployment in liveness-http liveness-grpc readiness-tcp; do
  e2e_eventually "the controller to restore $deployment's original probes" 60 restored "$deployment"
done
e2e_eventually "readiness-tcp back to 2/2 (no agent)" 120 ready_column_is readiness-tcp "2/2 Running"
# The restored pod of liveness-http: its rollout may still be under way (two pods, or only the
# old one with the agent).
restored_pod() {
  local pod
  pod=$(node_pod "$1")
  [[ -n $pod ]] || { echo "$1 has no single pod yet"; return 1; }
  [[ $(e2e_kubectl get pod "$pod" --namespace "$E2E_NAMESPACE" \
    -o jsonpath='{.spec.initContainers[*].name}') != *meshprobe-agent* ]] ||
    { echo "$pod still has the agent"; return 1; }
  echo "$pod"
}
e2e_eventually "liveness-http's pod without the agent" 120 restored_pod liveness-http
pod=$(restored_pod liveness-http)
e2e_eventually "the kubelet to restart $pod's app (the original HTTP probe fails under STRICT)" 90 \
  node_restarted "$pod" app
node_show "$pod"

set_global_rewrite false true
e2e_eventually "the controller to rewrite the Deployments again, pods READY 3/3" 180 all_ready_with_agent
e2e_kubectl get pods --namespace "$E2E_NAMESPACE" -o wide
