#!/usr/bin/env bash
# The seed's own step with the built istioctl against the cluster:
#   kubectl apply -f <(istioctl kube-inject -f liveness-http-same-port.yaml)
# istioctl finds Istio's webhook configuration (label istio.io/rev=default) and asks the
# cluster's injector at its URL, so the manifest comes back injected by the same code and
# configuration as the Pods of a labelled namespace: istio-proxy added, the HTTP liveness probe
# on pilot-agent's 15020, the original in ISTIO_KUBE_APP_PROBERS. With the seed's switch off it
# renders the probe unchanged. The namespace is unlabelled: the Pod is the template as rendered.
source "$(dirname "$0")/../../harness/lib.sh"
source "$(dirname "$0")/lib.sh"
istio_setup
sample="$istio_samples/liveness-http-same-port.yaml"
injector_log="$MESHPROBE_E2E_LOG_DIR/istio-sidecar-injector.log"
work="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE"
mkdir -p "$work"

requests_before=$(grep -c 'Process sidecar injection request' "$injector_log" || true)
istioctl kube-inject -f "$sample" >"$work/injected.yaml" 2>"$work/kube-inject.log" ||
  e2e_fail "istioctl kube-inject failed: $(cat "$work/kube-inject.log")"
requests_after=$(grep -c 'Process sidecar injection request' "$injector_log" || true)
((requests_after > requests_before)) ||
  e2e_fail "istioctl kube-inject did not ask the cluster's injector (its log: $injector_log)"
e2e_kubectl apply --namespace "$E2E_NAMESPACE" -f "$work/injected.yaml" >/dev/null

template=$(e2e_kubectl get deployment liveness-http --namespace "$E2E_NAMESPACE" -o json |
  jq '{metadata: .spec.template.metadata, spec: .spec.template.spec}')
istio_show_pod "$template"
istio_container "$template" istio-proxy >/dev/null || e2e_fail "kube-inject added no istio-proxy"
[[ $(istio_container "$template" liveness-http | jq -c '.livenessProbe.httpGet | {path, port}') == \
  '{"path":"/app-health/liveness-http/livez","port":15020}' ]] ||
  e2e_fail "kube-inject did not rewrite the probe: $(istio_container "$template" liveness-http | jq -c .livenessProbe)"
[[ $(istio_app_probers "$template" | jq -c '."/app-health/liveness-http/livez".httpGet | {path, port}') == \
  '{"path":"/foo","port":8001}' ]] || e2e_fail "ISTIO_KUBE_APP_PROBERS: $(istio_app_probers "$template")"

# The Pod (no webhook acts on this namespace) is the rendered template.
pod_matches_template() {
  local pod
  pod=$(istio_admitted_pod liveness-http) || { echo "no Pod yet"; return 1; }
  [[ $(istio_container "$pod" liveness-http | jq -c .livenessProbe.httpGet.port) == 15020 ]] ||
    { echo "Pod probe: $(istio_container "$pod" liveness-http | jq -c .livenessProbe)"; return 1; }
  istio_container "$pod" istio-proxy >/dev/null
}
e2e_eventually "the Pod of the kube-injected Deployment" 60 pod_matches_template

# The seed's switch reaches kube-inject too (it asks the same injector).
istio_set_rewrite default true false
kube_inject_keeps_probe() {
  istioctl kube-inject -f "$sample" 2>/dev/null >"$work/injected-off.yaml" || return 1
  grep -q 'name: istio-proxy' "$work/injected-off.yaml" || { echo "no istio-proxy"; return 1; }
  ! grep -q '/app-health/' "$work/injected-off.yaml" || { echo "still rewritten"; return 1; }
}
e2e_eventually "istioctl kube-inject to render the probe unchanged (the seed's switch off)" 60 kube_inject_keeps_probe
