#!/usr/bin/env bash
# A revisioned install: a namespace labelled istio.io/rev=canary is injected by the canary
# revision's injector (its own process, reading istio-sidecar-injector-canary and istio-canary,
# registered by the chart's webhook configuration istio-sidecar-injector-canary), and follows
# that ConfigMap's switch: with rewriting off in istio-sidecar-injector-canary the canary's
# Pods keep their probe while the default revision's still get Istio's rewrite.
source "$(dirname "$0")/../../harness/lib.sh"
source "$(dirname "$0")/lib.sh"
istio_setup
istio_label_namespace "istio.io/rev=$istio_canary"
sample="$istio_samples/liveness-http-same-port.yaml"
canary_log="$MESHPROBE_E2E_LOG_DIR/istio-sidecar-injector-$istio_canary.log"

# A second namespace injected by the default revision, for comparison.
default_namespace="$E2E_NAMESPACE-default"
istio_namespace "$default_namespace" istio-injection=enabled

injected_pod() {
  local pod
  pod=$(istio_admitted_pod liveness-http) || { echo "no single Pod yet"; return 1; }
  jq -e '.metadata.annotations["sidecar.istio.io/status"]' <<<"$pod" >/dev/null || { echo "not injected"; return 1; }
  echo "$pod"
}
e2e_kubectl apply --namespace "$E2E_NAMESPACE" -f "$sample" >/dev/null
e2e_eventually "an injected Pod in the $istio_canary namespace" 60 injected_pod
pod=$(injected_pod)
istio_show_pod "$pod"
[[ $(jq -r '.metadata.annotations["istio.io/rev"]' <<<"$pod") == "$istio_canary" ]] ||
  e2e_fail "not injected by revision $istio_canary: $(jq -c .metadata.annotations <<<"$pod")"
grep -q "pod=$E2E_NAMESPACE/" "$canary_log" ||
  e2e_fail "the $istio_canary injector ($canary_log) did not see the Pod"
[[ $(istio_container "$pod" liveness-http | jq -c .livenessProbe.httpGet.port) == 15020 ]] ||
  e2e_fail "the $istio_canary injector did not rewrite the probe: $(istio_container "$pod" liveness-http | jq -c .livenessProbe)"

# admitted_port NAMESPACE: the liveness probe's port of the sample's Pod admitted now there.
admitted_port() {
  local pod
  pod=$(e2e_kubectl create --dry-run=client -o json -f "$sample" |
    jq '(.items // [.])[] | select(.kind == "Deployment") |
      {apiVersion: "v1", kind: "Pod", metadata: (.spec.template.metadata + {name: "admitted-now"}), spec: .spec.template.spec}' |
    e2e_kubectl create --dry-run=server --namespace "$1" -o json -f -) || return 1
  istio_container "$pod" istio-proxy >/dev/null || { echo "not injected in $1"; return 1; }
  istio_container "$pod" liveness-http | jq -r .livenessProbe.httpGet.port
}
ports_are() {  # CANARY_PORT DEFAULT_PORT
  local canary default
  canary=$(admitted_port "$E2E_NAMESPACE") && default=$(admitted_port "$default_namespace") || return 1
  [[ $canary == "$1" && $default == "$2" ]] || { echo "canary namespace $canary, default namespace $default"; return 1; }
}
e2e_eventually "both revisions to rewrite" 60 ports_are 15020 15020
istio_set_rewrite "$istio_canary" true false
e2e_eventually "the $istio_canary revision alone to stop rewriting" 60 ports_are 8001 15020
istio_set_rewrite "$istio_canary" false true
e2e_eventually "the $istio_canary revision to rewrite again" 60 ports_are 15020 15020
