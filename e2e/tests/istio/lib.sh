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
# Istio's sample the seed applies: $istio_samples/liveness-http-same-port.yaml.

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
  local status=$?
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
