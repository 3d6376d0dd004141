#!/usr/bin/env bash
# Istio's real sidecar injector at pod admission, without meshprobe: the seed's liveness-http
# Deployment (Istio's sample) in a namespace labelled istio-injection=enabled gets Pods with
#   - istio-proxy injected by Istio's webhook (Istio's template from its chart's ConfigMap);
#   - the application's HTTP liveness probe rewritten by Istio to pilot-agent's status port
#     15020, its original in istio-proxy's ISTIO_KUBE_APP_PROBERS;
# the seed's global switch (kubectl get cm istio-sidecar-injector | sed | kubectl apply)
# reaches the running injector through Istio's ConfigMap watcher: Pods created afterwards keep
# the original probe; Pods of an unlabelled namespace are not injected. The node is tainted:
# the Pods stay Pending, the test reads them as the API server admitted them.
source "$(dirname "$0")/../../harness/lib.sh"
source "$(dirname "$0")/lib.sh"
istio_setup
istio_label_namespace istio-injection=enabled
sample="$istio_samples/liveness-http-same-port.yaml"

# The Deployment's one Pod, injected (sidecar.istio.io/status), printed as admitted.
injected_pod() {
  local pod
  pod=$(istio_admitted_pod liveness-http) || { echo "no single Pod of liveness-http yet"; return 1; }
  jq -e '.metadata.annotations["sidecar.istio.io/status"]' <<<"$pod" >/dev/null ||
    { echo "not injected: $(jq -c .metadata <<<"$pod")"; return 1; }
  echo "$pod"
}

e2e_kubectl apply --namespace "$E2E_NAMESPACE" -f "$sample" >/dev/null
e2e_eventually "an injected Pod of liveness-http" 60 injected_pod
pod=$(injected_pod)
istio_show_pod "$pod"

proxy=$(istio_container "$pod" istio-proxy) || e2e_fail "no istio-proxy in the admitted Pod"
istio_container "$pod" istio-init >/dev/null || e2e_fail "no istio-init in the admitted Pod"
# Native sidecar (Kubernetes >= 1.33): an init container that keeps running.
[[ $(jq -r .restartPolicy <<<"$proxy") == Always ]] ||
  e2e_fail "istio-proxy is not a native sidecar: $(jq -c '{name, restartPolicy}' <<<"$proxy")"
[[ $(jq -c '.readinessProbe.httpGet | {path, port}' <<<"$proxy") == '{"path":"/healthz/ready","port":15021}' ]] ||
  e2e_fail "istio-proxy's own readiness probe is not Istio's: $(jq -c .readinessProbe <<<"$proxy")"
[[ $(jq -r '.metadata.annotations["istio.io/rev"]' <<<"$pod") == default ]] ||
  e2e_fail "not injected by the default revision: $(jq -c .metadata.annotations <<<"$pod")"

app=$(istio_container "$pod" liveness-http)
[[ $(jq -c '.livenessProbe.httpGet | {path, port}' <<<"$app") == '{"path":"/app-health/liveness-http/livez","port":15020}' ]] ||
  e2e_fail "Istio did not rewrite the liveness probe to its status port: $(jq -c .livenessProbe <<<"$app")"
[[ $(istio_app_probers "$pod" | jq -c '."/app-health/liveness-http/livez".httpGet | {path, port}') == '{"path":"/foo","port":8001}' ]] ||
  e2e_fail "ISTIO_KUBE_APP_PROBERS does not hold the original probe: $(istio_app_probers "$pod")"

# Unlabelled namespace: the webhook's selectors leave its Pods alone.
plain_pod=$(e2e_kubectl create --dry-run=server --namespace default -o json -f - <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: not-in-mesh}
spec:
  containers:
  - name: app
    image: registry.istio.io/release/health:example
    livenessProbe: {httpGet: {path: /foo, port: 8001}}
YAML
)
[[ $(jq -c '[.spec.initContainers[]?, .spec.containers[] | .name]' <<<"$plain_pod") == '["app"]' ]] ||
  e2e_fail "a Pod of an unlabelled namespace was changed: $(jq -c .spec <<<"$plain_pod")"

# The seed's global switch. The injector reads it through its ConfigMap watcher: wait until a
# Pod admitted now (server-side dry run of the Deployment's template) keeps its probe, then roll
# the Deployment.
template_admitted_now() {
  e2e_kubectl get deployment liveness-http --namespace "$E2E_NAMESPACE" -o json |
    jq '{apiVersion: "v1", kind: "Pod", metadata: (.spec.template.metadata + {name: "admitted-now"}),
         spec: .spec.template.spec}' |
    e2e_kubectl create --dry-run=server --namespace "$E2E_NAMESPACE" -o json -f -
}
liveness_probe_of() { istio_container "$1" liveness-http | jq -c '.livenessProbe.httpGet | {path, port}'; }
admitted_with_probe() {  # PATH_PORT_JSON
  local pod
  pod=$(template_admitted_now) || return 1
  istio_container "$pod" istio-proxy >/dev/null || { echo "not injected"; return 1; }
  [[ $(liveness_probe_of "$pod") == "$1" ]] || { echo "liveness probe $(liveness_probe_of "$pod")"; return 1; }
}
original='{"path":"/foo","port":8001}'
istio_set_rewrite default true false
e2e_eventually "Istio's injector to stop rewriting (the seed's switch)" 60 admitted_with_probe "$original"

# The rollout keeps the old Pod until the new one is ready, which it never is (Pending).
old_pod=$(jq -r .metadata.name <<<"$pod")
e2e_kubectl rollout restart deployment liveness-http --namespace "$E2E_NAMESPACE" >/dev/null
newest_pod() {
  e2e_kubectl get pods --namespace "$E2E_NAMESPACE" -l app=liveness-http -o json |
    jq -e --arg old "$old_pod" '.items | map(select(.metadata.name != $old)) | sort_by(.metadata.creationTimestamp) | last // empty'
}
e2e_eventually "a new Pod of the restarted Deployment" 60 newest_pod
pod=$(newest_pod)
istio_show_pod "$pod"
jq -e '.metadata.annotations["sidecar.istio.io/status"]' <<<"$pod" >/dev/null ||
  e2e_fail "the new Pod was not injected"
[[ $(liveness_probe_of "$pod") == "$original" ]] ||
  e2e_fail "Istio rewrote the new Pod's probe with rewriting off: $(liveness_probe_of "$pod")"
[[ $(istio_app_probers "$pod") == null ]] ||
  e2e_fail "ISTIO_KUBE_APP_PROBERS with rewriting off: $(istio_app_probers "$pod")"

# And back: the reverse sed turns Istio's rewrite on again.
istio_set_rewrite default false true
e2e_eventually "Istio's injector to rewrite again" 60 admitted_with_probe \
  '{"path":"/app-health/liveness-http/livez","port":15020}'
