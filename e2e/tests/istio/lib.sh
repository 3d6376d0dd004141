# Helpers of the tests against Istio's real sidecar injector (sourced after ../../harness/lib.sh;
# the cluster runs it when started with up --istio, as e2e/run does: e2e/cluster/istio.sh):
#   source "$(dirname "$0")/lib.sh"
#   istio_setup                          # e2e_setup; Istio's own ConfigMaps, now and on exit
#   istio_label_namespace istio-injection=enabled
#   istio_set_rewrite REVISION true|false   # the seed's kubectl | sed | kubectl apply
#   pod=$(istio_admitted_pod DEPLOYMENT) # the Pod as the API server admitted it (JSON)
#   istio_container "$pod" NAME          # one container (containers or initContainers), JSON
#   istio_app_probers "$pod"             # istio-proxy's ISTIO_KUBE_APP_PROBERS (JSON, or null)
#   istioctl kube-inject -f FILE         # the built istioctl with the cluster's kubeconfig
#   istio_start_controller               # meshprobe controller with the install's RBAC
#   istio_namespace NAME [LABEL...]      # one more namespace, deleted on exit
#   e2e_eventually "..." 60 istio_reason_is DEPLOYMENT NAMESPACE REASON with|without
# Istio's sample the seed applies: $istio_samples/liveness-http-same-port.yaml.
istio_tests_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

istio_setup() {
  local variable
  for variable in MESHPROBE_E2E_ISTIOCTL MESHPROBE_E2E_ISTIO_CONFIG_DIR MESHPROBE_E2E_ISTIO_REVISION; do
    [[ -n ${!variable:-} ]] || e2e_fail "no Istio injector in this cluster ($variable not set): run the" \
      "tests with e2e/run (it starts it), or start a cluster with 'e2e/cluster/up --istio'."
  done
  istio_samples="$MESHPROBE_E2E_ISTIO_CONFIG_DIR/samples/health-check"
  istio_canary=$MESHPROBE_E2E_ISTIO_REVISION
  e2e_setup
  # Other tests replace or delete the injector's ConfigMaps (meshprobe creates a values-only
  # one when it is missing): these tests start from Istio's and leave Istio's behind.
  istio_restore_config
  trap '_istio_teardown' EXIT
}

_istio_teardown() {
  local status=$? namespace
  for namespace in "${istio_extra_namespaces[@]}"; do
    e2e_kubectl delete namespace "$namespace" --wait=false >/dev/null || status=1
  done
  istio_restore_config || status=1
  (exit "$status")
  _e2e_teardown
}

# Istio's rendered ConfigMaps of every revision, as the chart writes them.
istio_restore_config() {
  local revision
  for revision in "$MESHPROBE_E2E_ISTIO_CONFIG_DIR"/*/configmaps.json; do
    e2e_kubectl apply --server-side --force-conflicts --field-manager=meshprobe-e2e -f "$revision" >/dev/null
  done
}

istioctl() { "$MESHPROBE_E2E_ISTIOCTL" --kubeconfig="$MESHPROBE_E2E_KUBECONFIG" "$@"; }

# istio_injector_configmap REVISION: the name of its ConfigMap (Istio's naming).
istio_injector_configmap() {
  [[ $1 == default ]] && echo istio-sidecar-injector || echo "istio-sidecar-injector-$1"
}

istio_label_namespace() { e2e_kubectl label namespace "$E2E_NAMESPACE" "$@" >/dev/null; }

# istio_set_rewrite REVISION FROM TO: the seed's global switch, word for word but for the
# ConfigMap's name (a revision's injector reads istio-sidecar-injector-REVISION).
istio_set_rewrite() {
  local configmap
  configmap=$(istio_injector_configmap "$1")
  e2e_kubectl get cm "$configmap" -n istio-system -o yaml |
    sed -e "s/\"rewriteAppHTTPProbe\": $2/\"rewriteAppHTTPProbe\": $3/" | e2e_kubectl apply -f - >/dev/null
  [[ $(e2e_kubectl get cm "$configmap" -n istio-system -o jsonpath='{.data.values}') == *"\"rewriteAppHTTPProbe\": $3"* ]] ||
    e2e_fail "the seed's sed did not set rewriteAppHTTPProbe to $3 in $configmap"
}

# The one Pod of Deployment NAME (label app=NAME) that is not terminating, as JSON.
istio_admitted_pod() {
  e2e_kubectl get pods --namespace "$E2E_NAMESPACE" -l "app=$1" -o json |
    jq -e '[.items[] | select(.metadata.deletionTimestamp == null)] | if length == 1 then .[0] else empty end'
}

# istio_dry_run_pod FILE: the Pod in FILE as admission (Istio's webhook included) would admit
# it now, without creating it (server-side dry run).
istio_dry_run_pod() {
  e2e_kubectl create --dry-run=server --namespace "$E2E_NAMESPACE" -o json -f "$1"
}

# istio_container POD_JSON NAME: container NAME among containers and initContainers.
istio_container() {
  jq -e --arg name "$2" '[.spec.initContainers[]?, .spec.containers[]] | map(select(.name == $name)) | .[0] // empty' <<<"$1"
}

# istio_app_probers POD_JSON: istio-proxy's ISTIO_KUBE_APP_PROBERS parsed (null when absent).
istio_app_probers() {
  jq '[.spec.initContainers[]?, .spec.containers[]] | map(select(.name == "istio-proxy")) | .[0].env // []
      | map(select(.name == "ISTIO_KUBE_APP_PROBERS")) | .[0].value // "null" | fromjson' <<<"$1"
}

# istio_show_pod POD_JSON: its containers, probes and the agents' env, for the test's log.
istio_show_pod() {
  jq '{name: .metadata.name, annotations: .metadata.annotations, labels: .metadata.labels,
       initContainers: [.spec.initContainers[]? | {name, restartPolicy, ports, livenessProbe, readinessProbe, startupProbe,
         env: ([.env[]? | select(.name | test("PROBE|ISTIO_META_|STATUS|MESHPROBE"))])}],
       containers: [.spec.containers[] | {name, ports, livenessProbe, readinessProbe, startupProbe,
         env: ([.env[]? | select(.name | test("PROBE|ISTIO_META_|STATUS|MESHPROBE"))])}]}' <<<"$1"
}

# istio_start_controller: meshprobe's CRD, namespace and RBAC (config/) installed as a user
# installs them, and `meshprobe controller` ($MESHPROBE_BINARY) running as a child process with
# the install's ServiceAccount token; waits until it leads. Stopped (SIGTERM) on exit, its log
# printed when the test failed.
istio_start_controller() {
  [[ -x ${MESHPROBE_BINARY:-} ]] || e2e_fail "MESHPROBE_BINARY (the meshprobe binary) is not set (CTest sets it)"
  local repository="$istio_tests_dir/../../.."
  e2e_kubectl apply -f "$repository/crds/meshprobe.io_healthprobepolicies.yaml" >/dev/null
  e2e_kubectl wait --for condition=established crd/healthprobepolicies.meshprobe.io --timeout=60s >/dev/null
  e2e_kubectl apply -f "$repository/config/manager/namespace.yaml" >/dev/null
  e2e_kubectl apply -k "$repository/config/rbac" >/dev/null
  e2e_kubectl delete healthprobepolicies --all --namespace istio-system >/dev/null
  local kubeconfig
  kubeconfig=$(e2e_token_kubeconfig meshprobe-system meshprobe-controller)
  istio_controller_log="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE.controller.log"
  "$MESHPROBE_BINARY" controller --kubeconfig "$kubeconfig" --health-probe-bind-address 127.0.0.1:0 \
    --metrics-bind-address 0 --log-level info >"$istio_controller_log" 2>&1 &
  istio_controller_pid=$!
  trap '_istio_stop_controller' EXIT
  e2e_eventually "the controller to lead" 60 grep -q '): reconciling' "$istio_controller_log"
}

_istio_stop_controller() {
  local status=$?
  e2e_stop_process "$istio_controller_pid" "$istio_controller_log" "$status" 60
  (exit "$status")
  _istio_teardown
}

# istio_namespace NAME LABEL...: a further namespace (deleted on exit with the test's), labelled.
istio_extra_namespaces=()
istio_namespace() {
  local name=$1
  shift
  e2e_kubectl create namespace "$name" >/dev/null
  (($# == 0)) || e2e_kubectl label namespace "$name" "$@" >/dev/null
  istio_extra_namespaces+=("$name")
  e2e_eventually "ServiceAccount default in $name" 60 e2e_kubectl get serviceaccount default --namespace "$name"
}

# istio_deployment NAME NAMESPACE: `kubectl get deployment -o json`.
istio_deployment() { e2e_kubectl get deployment "$1" --namespace "$2" -o json; }

# istio_condition DEPLOYMENT_JSON: its HealthProbesRewritten condition ({} when none).
istio_condition() {
  jq '[.status.conditions[]? | select(.type == "HealthProbesRewritten")] | .[0] // {}' <<<"$1"
}

# istio_has_agent DEPLOYMENT_JSON: whether the template holds meshprobe's agent.
istio_has_agent() {
  jq -e '[.spec.template.spec.initContainers[]?, .spec.template.spec.containers[] | select(.name == "meshprobe-agent")] | length > 0' \
    <<<"$1" >/dev/null
}

# istio_reason_is NAME NAMESPACE REASON with|without: the condition's reason, and the agent
# present or not (for e2e_eventually; prints what it saw otherwise).
istio_reason_is() {
  local deployment reason agent=without
  deployment=$(istio_deployment "$1" "$2") || return 1
  reason=$(istio_condition "$deployment" | jq -r '.reason // "none"')
  istio_has_agent "$deployment" && agent=with
  [[ $reason == "$3" && $agent == "$4" ]] && return 0
  echo "reason $reason, $agent the agent; condition: $(istio_condition "$deployment" | jq -c .)"
  return 1
}
