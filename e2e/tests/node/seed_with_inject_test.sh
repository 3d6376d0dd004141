#!/usr/bin/env bash
# The seed's fix, for real, on the node: the same Deployments as seed_without_meshprobe_test.sh
# (mesh stand-in, PeerAuthentication STRICT), rewritten by `meshprobe inject` as a person would
# before applying them. The kubelet's probes now go through meshprobe-agent:
#   - every pod is READY 3/3 (application, stand-in proxy, agent) and stays up;
#   - a failing HTTP or gRPC health check makes the kubelet restart the application;
#   - a stopped application's TCP check fails (the pod leaves the ready set), and passes again
#     once it listens.
source "$(dirname "$0")/../../harness/lib.sh"
source "$(dirname "$0")/lib.sh"
node_setup
[[ -x ${MESHPROBE_BINARY:-} ]] || e2e_fail "MESHPROBE_BINARY (the meshprobe binary) is not set (CTest sets it)"

node_manifest strict-mtls.yaml | e2e_apply >/dev/null
injected="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE.injected.yaml"
node_manifest seed-app.yaml | "$MESHPROBE_BINARY" inject -f - >"$injected" ||
  e2e_fail "meshprobe inject failed"
e2e_apply <"$injected" >/dev/null
for deployment in liveness-http liveness-grpc readiness-tcp; do
  probes=$(e2e_kubectl get deployment "$deployment" --namespace "$E2E_NAMESPACE" \
    -o jsonpath='{.spec.template.spec.containers[?(@.name=="app")]}')
  [[ $probes == *'"path":"/app-health/app/'* && $probes == *'"port":15120'* ]] ||
    e2e_fail "$deployment's probes do not point at the agent: $probes"
done

for deployment in liveness-http liveness-grpc readiness-tcp; do
  e2e_eventually "Deployment $deployment Ready" 120 node_deployment_ready "$deployment"
  pod=$(node_pod "$deployment")
  ready=$(e2e_kubectl get pod "$pod" --namespace "$E2E_NAMESPACE" --no-headers | awk '{print $2, $3}')
  [[ $ready == "3/3 Running" ]] || e2e_fail "$pod is '$ready', expected '3/3 Running'"
done
# Several probe periods (2 s) later nothing has restarted: the liveness probes pass.
sleep 8
for deployment in liveness-http liveness-grpc; do
  pod=$(node_pod "$deployment")
  (($(node_restarts "$pod" app) == 0)) || e2e_fail "$pod's app restarted although it is healthy"
done

# HTTP and gRPC: the application reports failing, the kubelet restarts it (a restarted
# application starts healthy, so the pod is Ready again afterwards).
for check in http grpc; do
  pod=$(node_pod "liveness-$check")
  node_set_health "$pod" "$check" failing
  e2e_eventually "the kubelet to restart $pod's app ($check failing)" 60 node_restarted "$pod" app
  e2e_eventually "$pod Ready again after the restart" 60 node_deployment_ready "liveness-$check"
  node_show "$pod"
done
events=$(e2e_kubectl get events --namespace "$E2E_NAMESPACE" -o jsonpath='{range .items[*]}{.message}{"\n"}{end}')
[[ $events == *"Liveness probe failed: HTTP probe failed with statuscode: 503"* ]] ||
  e2e_fail "no liveness failure with the application's 503 among the events: $events"

# TCP: the application stops listening; the agent's check fails, the pod leaves the ready set.
pod=$(node_pod readiness-tcp)
node_set_health "$pod" tcp failing
e2e_eventually "$pod unready (its application stopped listening)" 30 node_pod_ready "$pod" False
node_show "$pod"
node_set_health "$pod" tcp passing
e2e_eventually "$pod Ready again" 30 node_pod_ready "$pod" True
