#!/usr/bin/env bash
# As a new user runs it (issue 17): `meshprobe controller --kubeconfig ADMIN` against a cluster
# with the CRD applied and nothing else of meshprobe's (no namespace, no RBAC).
#   - Without flags, leader election is off (kubebuilder's default): it reconciles at once, and
#     /readyz answers 200.
#   - With --leader-elect and a Lease namespace that does not exist, it says so in one error
#     line naming the fix (not once per retry period), and /readyz answers 500 saying why:
#     "waiting for leadership: namespace ... not found".
# SIGTERM stops it with 0 either way.
source "$(dirname "$0")/../../harness/lib.sh"
[[ -x ${MESHPROBE_BINARY:-} ]] || e2e_fail "MESHPROBE_BINARY (the meshprobe binary) is not set (CTest sets it)"
repository=$(cd "$(dirname "$0")/../../.." && pwd)
controller_pid=
controller_log=
new_user_teardown() {
  local status=$?
  if [[ -n $controller_pid ]]; then
    kill -TERM "$controller_pid" 2>/dev/null && wait "$controller_pid" 2>/dev/null
    ((status == 0)) || { echo "----- controller log:" >&2; tail -30 "$controller_log" >&2; }
  fi
  (exit "$status")
  _e2e_teardown
}
e2e_setup
trap new_user_teardown EXIT
e2e_kubectl apply -f "$repository/crds/" >/dev/null
e2e_kubectl wait --for=condition=Established crd/healthprobepolicies.meshprobe.io --timeout=60s >/dev/null
e2e_kubectl create namespace istio-system --dry-run=client -o yaml | e2e_kubectl apply -f - >/dev/null
e2e_kubectl apply -f - >/dev/null <<YAML
apiVersion: meshprobe.io/v1alpha1
kind: HealthProbePolicy
metadata: {name: always, namespace: $E2E_NAMESPACE}
spec: {mode: Always}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: $E2E_NAMESPACE}
spec:
  replicas: 0
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.local/web:1.0
        livenessProbe: {httpGet: {path: /healthz, port: 8080}}
YAML

# run_controller NAME FLAGS...: `meshprobe controller` with the admin kubeconfig and loopback
# health and metrics ports (health_port is set).
run_controller() {
  local name=$1
  shift
  health_port=$(e2e_free_port)
  controller_log="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE.$name.log"
  "$MESHPROBE_BINARY" controller --kubeconfig "$MESHPROBE_E2E_KUBECONFIG" \
    --health-probe-bind-address "127.0.0.1:$health_port" \
    --metrics-bind-address "127.0.0.1:$(e2e_free_port)" "$@" >"$controller_log" 2>&1 &
  controller_pid=$!
}
stop_controller() {
  kill -TERM "$controller_pid"
  local status=0
  wait "$controller_pid" || status=$?
  controller_pid=
  ((status == 0)) || e2e_fail "the controller exited $status on SIGTERM (want 0)"
}
readyz() { curl -s -o "$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE.readyz" -w '%{http_code}' "http://127.0.0.1:$health_port/readyz"; }

# 1. The defaults: no Lease, reconciling.
run_controller defaults
rewritten() {
  [[ $(e2e_kubectl get deployment web --namespace "$E2E_NAMESPACE" \
    -o jsonpath='{.spec.template.spec.initContainers[*].name}{.spec.template.spec.containers[*].name}') == *meshprobe-agent* ]]
}
e2e_eventually "the controller to rewrite the Deployment" 60 rewritten
grep -q "leading (leader election off): reconciling" "$controller_log" ||
  e2e_fail "no 'leader election off' line: $(head -5 "$controller_log")"
ready_200() { [[ $(readyz) == 200 ]]; }
e2e_eventually "/readyz to answer 200" 30 ready_200
stop_controller

# 2. --leader-elect with a Lease namespace that does not exist.
missing="meshprobe-absent-$RANDOM"
run_controller leader-elect --leader-elect --leader-election-namespace "$missing" --retry-period 1s \
  --renew-deadline 2s --lease-duration 3s
expected="waiting for leadership: namespace $missing not found"
says_why() { [[ $(readyz) == 500 ]] && grep -qF "$expected" "$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE.readyz"; }
e2e_eventually "/readyz to answer 500: $expected" 30 says_why
echo "/readyz: $(cat "$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE.readyz")"
sleep 4  # several retry periods
lines=$(grep -c "namespace $missing not found" "$controller_log" || true)
((lines == 1)) || e2e_fail "the missing namespace was logged $lines times (want once): $(grep "$missing" "$controller_log" | head -5)"
grep "namespace $missing not found" "$controller_log" | grep -q "kubectl create namespace $missing" ||
  e2e_fail "the line does not name the fix: $(grep "$missing" "$controller_log")"
stop_controller
