#!/usr/bin/env bash
# `meshprobe preview` on the real control plane (docs/preview.md), against the real controller:
#   1. the controller runs with the global switch off, so nothing is rewritten;
#   2. the preview of a HealthProbePolicy that is not applied yet (--policy), run with a token
#      whose only rights are the ClusterRole meshprobe-preview, says what would happen;
#   3. the policy is applied; the controller's conditions and templates are what the preview
#      said, workload by workload, and a second preview finds nothing left to do (every action
#      "none", the same reasons and probes);
#   4. --toggle on previews the switch for the workloads the policy does not select;
#   5. `kubectl meshprobe preview` (the real kubectl, the plugin kubectl-meshprobe on PATH);
#   6. an unknown namespace, a token without the ClusterRole, an unreachable API server: one
#      line on standard error, exit 1, nothing on standard output.
source "$(dirname "$0")/../../harness/lib.sh"
e2e_setup
[[ -x ${MESHPROBE_BINARY:-} ]] || e2e_fail "MESHPROBE_BINARY (the meshprobe binary) is not set (CTest sets it)"
repository=$(cd "$(dirname "$0")/../../.." && pwd)
work="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE"
mkdir -p "$work/plugin"

# The install's identities: the controller's (config/rbac) and the preview's ClusterRole.
e2e_kubectl create namespace istio-system --dry-run=client -o yaml | e2e_kubectl apply -f - >/dev/null
e2e_kubectl apply -f "$repository/crds/" >/dev/null
e2e_kubectl apply -f "$repository/config/manager/namespace.yaml" >/dev/null
e2e_kubectl apply -k "$repository/config/rbac" >/dev/null
e2e_kubectl apply -k "$repository/config/preview" >/dev/null
e2e_kubectl delete configmap istio-sidecar-injector -n istio-system --ignore-not-found >/dev/null
e2e_kubectl label namespace "$E2E_NAMESPACE" istio-injection=enabled >/dev/null
e2e_kubectl create serviceaccount previewer --namespace "$E2E_NAMESPACE" >/dev/null
e2e_kubectl create serviceaccount nobody --namespace "$E2E_NAMESPACE" >/dev/null
e2e_kubectl create clusterrolebinding "$E2E_NAMESPACE-previewer" --clusterrole=meshprobe-preview \
  --serviceaccount="$E2E_NAMESPACE:previewer" >/dev/null
previewer=$(e2e_token_kubeconfig "$E2E_NAMESPACE" previewer)
nobody=$(e2e_token_kubeconfig "$E2E_NAMESPACE" nobody)

cat >"$work/controller.yaml" <<EOF
defaultRewrite: false
healthProbeBindAddress: "127.0.0.1:0"
metricsBindAddress: "0"
leaderElection: {enabled: false}
log: {level: info, format: text}
EOF
controller_kubeconfig=$(e2e_token_kubeconfig meshprobe-system meshprobe-controller)
POD_NAMESPACE=meshprobe-system "$MESHPROBE_BINARY" controller --kubeconfig "$controller_kubeconfig" \
  --config "$work/controller.yaml" >"$work/controller.log" 2>&1 &
controller_pid=$!
cleanup() {
  local status=$?
  kill -TERM "$controller_pid" 2>/dev/null && wait "$controller_pid" 2>/dev/null
  ((status == 0)) || { echo "controller log:" >&2; tail -40 "$work/controller.log" >&2; }
  e2e_kubectl delete clusterrolebinding "$E2E_NAMESPACE-previewer" --ignore-not-found >/dev/null
  (exit "$status")
  _e2e_teardown
}
trap cleanup EXIT

deployment() {  # NAME PROBE [TEMPLATE ANNOTATIONS]
  cat <<EOF
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1, labels: {app: $1}}
spec:
  replicas: 0
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1, tier: web}, annotations: {${3:-}}}
    spec:
      containers:
      - name: app
        image: registry.local/app:1.0
        ports: [{name: http, containerPort: 8080}, {containerPort: 9000}]
        livenessProbe: $2
EOF
}
{
  deployment web-http '{httpGet: {path: /healthz, port: http}}'
  deployment web-tcp '{tcpSocket: {port: 9000}}'
  deployment web-exec '{exec: {command: [/bin/true]}}'
  deployment web-optout '{httpGet: {path: /healthz, port: 8080}}' 'sidecar.istio.io/rewriteAppHTTPProbers: "false"'
  deployment web-badport '{httpGet: {path: /healthz, port: missing}}'
  deployment other '{httpGet: {path: /healthz, port: 8080}}'
} | e2e_apply >/dev/null

reason_of() {
  e2e_kubectl get deployment "$1" --namespace "$E2E_NAMESPACE" \
    -o jsonpath='{.status.conditions[?(@.type=="HealthProbesRewritten")].reason}'
}
rewritten() {
  [[ $(e2e_kubectl get deployment "$1" --namespace "$E2E_NAMESPACE" \
    -o jsonpath='{.spec.template.spec.initContainers[*].name}') == *meshprobe-agent* ]]
}
all_decided() {
  local name
  for name in web-http web-tcp web-exec web-optout web-badport other; do
    [[ -n $(reason_of "$name") ]] || { echo "$name has no condition yet"; return 1; }
  done
}
e2e_eventually "the controller to decide every Deployment (switch off)" 90 all_decided

preview() {  # KUBECONFIG ARGS...: the preview's standard output in $work/out, errors in $work/err
  local kubeconfig=$1
  shift
  "$MESHPROBE_BINARY" preview --kubeconfig "$kubeconfig" --config "$work/controller.yaml" "$@" \
    >"$work/out" 2>"$work/err"
}

cat >"$work/policy.yaml" <<EOF
apiVersion: meshprobe.io/v1alpha1
kind: HealthProbePolicy
metadata: {name: web-always, namespace: $E2E_NAMESPACE}
spec:
  selector: {matchLabels: {tier: web}}
  mode: Always
EOF
e2e_kubectl label deployment other --namespace "$E2E_NAMESPACE" tier=none --overwrite >/dev/null
e2e_kubectl patch deployment other --namespace "$E2E_NAMESPACE" --type=json \
  -p '[{"op": "replace", "path": "/spec/template/metadata/labels/tier", "value": "none"}]' >/dev/null

echo "=== meshprobe preview --policy (not applied), as the previewer"
preview "$previewer" -n "$E2E_NAMESPACE" --policy "$work/policy.yaml" ||
  e2e_fail "the preview failed: $(cat "$work/err")"
cat "$work/out"
preview "$previewer" -n "$E2E_NAMESPACE" --policy "$work/policy.yaml" -o json ||
  e2e_fail "the preview failed: $(cat "$work/err")"
cp "$work/out" "$work/predicted.json"
predicted() { jq -r --arg name "$1" ".workloads[] | select(.name == \$name) | .$2" "$work/predicted.json"; }
[[ $(predicted web-http action) == rewrite && $(predicted web-http reason) == Rewritten ]] ||
  e2e_fail "web-http: the preview says $(predicted web-http action) $(predicted web-http reason)"
[[ $(predicted other action) == none && $(predicted other reason) == DisabledGlobally ]] ||
  e2e_fail "other (not selected): the preview says $(predicted other action) $(predicted other reason)"
for name in web-http web-tcp web-exec web-optout web-badport other; do
  rewritten "$name" && e2e_fail "$name was rewritten before the policy was applied"
done

echo "=== the policy applied: the controller does what the preview said"
e2e_kubectl apply -f "$work/policy.yaml" >/dev/null
as_predicted() {
  local name reason action
  for name in web-http web-tcp web-exec web-optout web-badport other; do
    reason=$(predicted "$name" reason)
    action=$(predicted "$name" action)
    [[ $(reason_of "$name") == "$reason" ]] || { echo "$name: condition $(reason_of "$name"), preview $reason"; return 1; }
    case $action in
      rewrite) rewritten "$name" || { echo "$name is not rewritten"; return 1; } ;;
      none | restore) ! rewritten "$name" || { echo "$name is rewritten, the preview said $action"; return 1; } ;;
      *) echo "$name: unexpected action $action"; return 1 ;;
    esac
  done
}
e2e_eventually "every Deployment as the preview said" 120 as_predicted
[[ $(e2e_kubectl get deployment web-http --namespace "$E2E_NAMESPACE" \
  -o jsonpath='{.spec.template.spec.containers[0].livenessProbe.httpGet.port}:{.spec.template.spec.containers[0].livenessProbe.httpGet.path}') \
  == "$(predicted web-http 'probes[0].after' | sed -E 's/^httpGet :([0-9]+)(.*)$/\1:\2/')" ]] ||
  e2e_fail "web-http's probe is not the one the preview showed: $(predicted web-http 'probes[0].after')"

echo "=== meshprobe preview after the apply: nothing left to do"
preview "$previewer" -n "$E2E_NAMESPACE" -o json || e2e_fail "the preview failed: $(cat "$work/err")"
cp "$work/out" "$work/after.json"
jq -e '[.workloads[] | select(.action != "none")] | length == 0' "$work/after.json" >/dev/null ||
  e2e_fail "the preview after the apply still has work: $(jq -c '[.workloads[] | {name, action}]' "$work/after.json")"
diff <(jq -S '[.workloads[] | {name, reason, probes: [.probes[] | {container, probe, outcome, after}]}]' "$work/predicted.json") \
  <(jq -S '[.workloads[] | {name, reason, probes: [.probes[] | {container, probe, outcome, after}]}]' "$work/after.json") ||
  e2e_fail "the preview after the apply disagrees with the preview before it (above)"

echo "=== --toggle on"
preview "$previewer" -n "$E2E_NAMESPACE" -l app=other --toggle on -o json || e2e_fail "$(cat "$work/err")"
[[ $(jq -r '.workloads[0].name + " " + .workloads[0].action + " " + .workloads[0].reason' "$work/out") == "other rewrite Rewritten" ]] ||
  e2e_fail "--toggle on: $(cat "$work/out")"
[[ $(jq '.workloads | length' "$work/out") == 1 ]] || e2e_fail "-l app=other: $(cat "$work/out")"

echo "=== kubectl meshprobe preview"
ln -sf "$MESHPROBE_BINARY" "$work/plugin/kubectl-meshprobe"
PATH="$work/plugin:$PATH" KUBECONFIG="$previewer" "$MESHPROBE_E2E_KUBECTL" meshprobe preview \
  -n "$E2E_NAMESPACE" --config "$work/controller.yaml" >"$work/plugin.out" 2>&1 ||
  e2e_fail "kubectl meshprobe preview failed: $(cat "$work/plugin.out")"
cat "$work/plugin.out"
grep -q "Deployment/web-http" "$work/plugin.out" || e2e_fail "kubectl meshprobe preview: no web-http"

echo "=== errors: one line, exit 1"
one_line_error() {  # DESCRIPTION EXPECTED-TEXT KUBECONFIG ARGS...
  local description=$1 expected=$2 status=0
  shift 2
  preview "$@" || status=$?
  ((status == 1)) || e2e_fail "$description: exit $status, expected 1"
  [[ ! -s $work/out ]] || e2e_fail "$description: standard output: $(cat "$work/out")"
  [[ $(wc -l <"$work/err") == 1 && $(cat "$work/err") == *"$expected"* ]] ||
    e2e_fail "$description: expected one line with '$expected', got: $(cat "$work/err")"
  echo "$description: $(cat "$work/err")"
}
one_line_error "unknown namespace" 'namespace "no-such-namespace" not found' "$previewer" -n no-such-namespace
one_line_error "forbidden" "meshprobe-preview" "$nobody"
unreachable="$work/unreachable.kubeconfig"
sed -E "s#server: https://[^ ]+#server: https://127.0.0.1:$(e2e_free_port)#" "$previewer" >"$unreachable"
one_line_error "no API server" "cannot reach the API server" "$unreachable"
