#!/usr/bin/env bash
# Issue 14 on the real node: a StatefulSet and a DaemonSet running in pods with the mesh
# stand-in under STRICT (not Ready: their HTTP readiness fails there) when meshprobe is
# installed. `meshprobe controller` rewrites both:
# - the DaemonSet rolls by itself; its pod is READY 3/3 (app, istio-proxy, meshprobe-agent);
# - the StatefulSet (podManagementPolicy OrderedReady, the default) does not replace a Pod that
#   is not Ready: meshprobe says so with a Warning Event RolloutWaitsForReadyPods, and after
#   the user does what it says (deletes the Pod) the new one is READY 3/3.
# Then their probes mean something again: the DaemonSet's HTTP readiness follows the
# application, and the StatefulSet's TCP liveness restarts the application when its port
# closes (the kubelet's own TCP probe would pass, answered by the redirect). Both carry
# HealthProbesRewritten=True; the one command of docs/workloads.md lists them.
source "$(dirname "$0")/../../harness/lib.sh"
source "$(dirname "$0")/lib.sh"
node_setup

rewritten_and_ready() {  # rewritten_and_ready KIND NAME
  local kind=$1 name=$2 pod
  [[ $(e2e_kubectl get "$kind" "$name" --namespace "$E2E_NAMESPACE" \
    -o jsonpath='{.spec.template.spec.initContainers[*].name}') == *meshprobe-agent* ]] ||
    { echo "$kind $name is not rewritten"; return 1; }
  [[ $(e2e_kubectl get "$kind" "$name" --namespace "$E2E_NAMESPACE" \
    -o jsonpath='{.status.conditions[?(@.type=="HealthProbesRewritten")].status}{.metadata.annotations.meshprobe\.io/health-probes-rewritten}') == True ]] ||
    { echo "$kind $name has no HealthProbesRewritten=True"; return 1; }
  pod=$(node_pod "$name")
  [[ -n $pod ]] || { echo "$kind $name has no single pod"; return 1; }
  [[ $(e2e_kubectl get pod "$pod" --namespace "$E2E_NAMESPACE" \
    -o jsonpath='{.spec.initContainers[*].name}') == *meshprobe-agent* ]] ||
    { echo "$pod (of $kind $name) was created from the template before the rewrite"; return 1; }
  [[ $(e2e_kubectl get pod "$pod" --namespace "$E2E_NAMESPACE" --no-headers | awk '{print $2, $3}') == "3/3 Running" ]] ||
    { e2e_kubectl get pod "$pod" --namespace "$E2E_NAMESPACE" --no-headers; return 1; }
}

pods_running() {  # every pod of the namespace's two workloads started, Ready or not
  e2e_kubectl get pods --namespace "$E2E_NAMESPACE" -o json | jq -e '
    [.items[] | select(.status.phase == "Running") | .metadata.labels.app] | sort == ["db", "node-agent"]' >/dev/null
}
waits_for_ready_pods_event() {
  e2e_kubectl get events --namespace "$E2E_NAMESPACE" -o name \
    --field-selector involvedObject.kind=StatefulSet,involvedObject.name=db,reason=RolloutWaitsForReadyPods | grep -q .
}
node_manifest strict-mtls.yaml | e2e_apply >/dev/null
node_manifest kinds-app.yaml | e2e_apply >/dev/null
e2e_eventually "the StatefulSet's and the DaemonSet's pods running before meshprobe is installed" 180 pods_running
e2e_kubectl get pods --namespace "$E2E_NAMESPACE" -o wide

node_start_controller
e2e_eventually "DaemonSet node-agent rewritten, its pod READY 3/3 through the agent" 240 rewritten_and_ready daemonset node-agent
e2e_eventually "a Warning Event RolloutWaitsForReadyPods on StatefulSet db" 60 waits_for_ready_pods_event
e2e_kubectl get events --namespace "$E2E_NAMESPACE" --field-selector involvedObject.name=db
pod=$(node_pod db)
[[ $(e2e_kubectl get pod "$pod" --namespace "$E2E_NAMESPACE" -o jsonpath='{.spec.initContainers[*].name}') != *meshprobe-agent* ]] ||
  e2e_fail "$pod runs the rewritten template already: the Event's premise did not hold"
# What the Event says to do.
e2e_kubectl delete pod "$pod" --namespace "$E2E_NAMESPACE" --wait=false >/dev/null
e2e_eventually "StatefulSet db rewritten, its new pod READY 3/3 through the agent" 240 rewritten_and_ready statefulset db
e2e_kubectl get statefulsets,daemonsets,pods --namespace "$E2E_NAMESPACE" -o wide

# The DaemonSet's HTTP readiness, through the agent, follows the application.
pod=$(node_pod node-agent)
node_set_health "$pod" http failing
e2e_eventually "$pod NotReady once its HTTP readiness fails" 60 node_pod_ready "$pod" False
node_set_health "$pod" http passing
e2e_eventually "$pod Ready again once it passes" 60 node_pod_ready "$pod" True
[[ $(node_restarts "$pod" app) == 0 ]] ||
  e2e_fail "$pod's app restarted: its gRPC liveness (through the agent) failed while the app served"

# The StatefulSet's TCP liveness, through the agent, sees the port close.
pod=$(node_pod db)
[[ $(node_restarts "$pod" app) == 0 ]] || e2e_fail "$pod's app restarted before its port was closed"
node_set_health "$pod" tcp failing
e2e_eventually "the kubelet to restart $pod's app (TCP liveness through the agent fails)" 90 \
  node_restarted "$pod" app
node_show "$pod"

# docs/workloads.md's one command for every workload's state.
state=$(e2e_kubectl get deployments,statefulsets,daemonsets,cronjobs --namespace "$E2E_NAMESPACE" \
  -o jsonpath='{range .items[*]}{.kind}{"\t"}{.metadata.namespace}/{.metadata.name}{"\t"}{.status.conditions[?(@.type=="HealthProbesRewritten")].reason}{.metadata.annotations.meshprobe\.io/health-probes-reason}{"\n"}{end}')
echo "$state"
[[ $state == *"StatefulSet	$E2E_NAMESPACE/db	Rewritten"* && $state == *"DaemonSet	$E2E_NAMESPACE/node-agent	Rewritten"* ]] ||
  e2e_fail "the state listing does not show both workloads Rewritten: $state"
