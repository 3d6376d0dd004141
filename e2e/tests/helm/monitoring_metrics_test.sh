#!/usr/bin/env bash
# Every metric the alert rules (config/monitoring/alerts/prometheus_rule.yaml, which the chart
# ships too) and the Grafana dashboard (config/monitoring/grafana/meshprobe-dashboard.json) use
# is one the real processes export: `meshprobe controller` (the install's identity, leading,
# having reconciled a rewritable Deployment and one with an invalid probe) and
# `meshprobe-agent` (having answered a probe that passed and one that failed) are scraped, and
# metric_names.py compares the names. No list of names in the test.
source "$(dirname "$0")/../../harness/lib.sh"
e2e_setup
[[ -x ${MESHPROBE_BINARY:-} ]] || e2e_fail "MESHPROBE_BINARY (the meshprobe binary) is not set (CTest sets it)"
[[ -x ${MESHPROBE_AGENT_BINARY:-} ]] || e2e_fail "MESHPROBE_AGENT_BINARY is not set (CTest sets it)"
tests_dir=$(cd "$(dirname "$0")" && pwd)
repository=$(cd "$tests_dir/../../.." && pwd)
work="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE"
mkdir -p "$work"

e2e_kubectl create namespace istio-system --dry-run=client -o yaml | e2e_kubectl apply -f - >/dev/null
e2e_kubectl apply -f "$repository/crds/" >/dev/null
e2e_kubectl apply -f "$repository/config/manager/namespace.yaml" >/dev/null
e2e_kubectl apply -k "$repository/config/rbac" >/dev/null
kubeconfig=$(e2e_token_kubeconfig meshprobe-system meshprobe-controller)
controller_metrics=$(e2e_free_port)
agent_port=$(e2e_free_port)
[[ $agent_port != "$controller_metrics" ]] || agent_port=$(e2e_free_port)
cat >"$work/controller.yaml" <<EOF
healthProbeBindAddress: "127.0.0.1:0"
metricsBindAddress: "127.0.0.1:$controller_metrics"
leaderElection: {enabled: true, leaseDuration: 6s, renewDeadline: 4s, retryPeriod: 1s}
log: {level: info, format: text}
EOF
POD_NAME="$E2E_NAMESPACE" POD_NAMESPACE=meshprobe-system "$MESHPROBE_BINARY" controller \
  --kubeconfig "$kubeconfig" --config "$work/controller.yaml" >"$work/controller.log" 2>&1 &
controller_pid=$!
# The agent as the controller configures it in a pod: two probes of "the application", one on
# the agent's own readiness endpoint (passes), one on a port nobody listens on (fails).
closed_port=$(e2e_free_port)
ISTIO_KUBE_APP_PROBERS="{\"/app-health/app/livez\": {\"httpGet\": {\"path\": \"/healthz/ready\", \"port\": $agent_port}, \"timeoutSeconds\": 1},
  \"/app-health/app/readyz\": {\"tcpSocket\": {\"port\": $closed_port}, \"timeoutSeconds\": 1}}" \
  POD_IP=127.0.0.1 "$MESHPROBE_AGENT_BINARY" --port "$agent_port" >"$work/agent.log" 2>&1 &
agent_pid=$!
stop_processes() {
  local status=$?
  kill -TERM "$controller_pid" "$agent_pid" 2>/dev/null
  wait "$controller_pid" "$agent_pid" 2>/dev/null
  if ((status != 0)); then
    echo "controller log:" >&2; tail -30 "$work/controller.log" >&2
    echo "agent log:" >&2; tail -30 "$work/agent.log" >&2
  fi
  (exit "$status")
  _e2e_teardown
}
trap stop_processes EXIT

e2e_apply >/dev/null <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 0
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}, annotations: {sidecar.istio.io/rewriteAppHTTPProbers: "true"}}
    spec:
      containers:
      - name: web
        image: registry.local/web:1.0
        ports: [{containerPort: 8080}]
        livenessProbe: {httpGet: {path: /healthz, port: 8080}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: broken, labels: {app: broken}}
spec:
  replicas: 0
  selector: {matchLabels: {app: broken}}
  template:
    metadata: {labels: {app: broken}, annotations: {sidecar.istio.io/rewriteAppHTTPProbers: "true"}}
    spec:
      containers:
      - name: broken
        image: registry.local/broken:1.0
        livenessProbe: {httpGet: {path: /healthz, port: http-missing}}
EOF

scrape() { curl -sf --max-time 5 "$1"; }
reason_of() {
  e2e_kubectl get deployment "$1" --namespace "$E2E_NAMESPACE" \
    -o jsonpath='{.status.conditions[?(@.type=="HealthProbesRewritten")].reason}'
}
both_decided() {
  [[ $(reason_of web) == Rewritten && $(reason_of broken) == InvalidProbe ]] ||
    { echo "web: $(reason_of web), broken: $(reason_of broken)"; return 1; }
}
e2e_eventually "the controller to lead and decide both Deployments" 90 both_decided
e2e_eventually "the controller's /metrics" 30 scrape "http://127.0.0.1:$controller_metrics/metrics"
counted() {
  scrape "http://127.0.0.1:$controller_metrics/metrics" >"$work/controller.metrics" || return 1
  grep -q '^meshprobe_workloads{kind="Deployment",reason="InvalidProbe"} 1' "$work/controller.metrics" ||
    { grep meshprobe_workloads "$work/controller.metrics"; return 1; }
}
e2e_eventually "meshprobe_workloads to count the Deployment with the invalid probe" 30 counted

e2e_eventually "the agent to listen" 30 scrape "http://127.0.0.1:$agent_port/healthz/ready"
curl -s --max-time 5 -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$agent_port/app-health/app/livez" | grep -qx 200 ||
  e2e_fail "the agent's passing probe did not pass"
curl -s --max-time 5 -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$agent_port/app-health/app/readyz" | grep -qx 500 ||
  e2e_fail "the agent's failing probe did not fail"
scrape "http://127.0.0.1:$agent_port/metrics" >"$work/agent.metrics" || e2e_fail "cannot scrape the agent's /metrics"
grep -q '^meshprobe_agent_probe_failures_total{' "$work/agent.metrics" ||
  e2e_fail "the agent's /metrics has no failure after a failed probe: $(cat "$work/agent.metrics")"

python3 "$tests_dir/metric_names.py" --exposition "$work/controller.metrics" "$work/agent.metrics" \
  --rules "$repository/config/monitoring/alerts/prometheus_rule.yaml" \
  "$repository/deploy/helm/meshprobe/files/prometheus_rule.yaml" \
  --dashboard "$repository/config/monitoring/grafana/meshprobe-dashboard.json" ||
  e2e_fail "the alerts or the dashboard use metrics that neither process exports (above)"
