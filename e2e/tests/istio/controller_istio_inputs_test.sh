#!/usr/bin/env bash
# meshprobe controller next to Istio's real injector (issue 13), Istio's other inputs:
#   - the seed's step, `kubectl apply -f <(istioctl kube-inject -f liveness-http-same-port.yaml)`
#     with the real istioctl: the probe Istio rewrote is left to Istio (reason LeftToIstio, the
#     condition names it), istio-proxy untouched, no agent;
#   - WhenRequired under PERMISSIVE: NotRequired; an AuthorizationPolicy that only allows a
#     peer identity (the kubelet has none) makes it Rewritten; deleting it restores;
#   - a namespace of revision canary follows istio-sidecar-injector-canary's switch (the seed's
#     sed on that ConfigMap) while the default revision's stays on.
source "$(dirname "$0")/../../harness/lib.sh"
source "$(dirname "$0")/lib.sh"
istio_setup
istio_start_controller
sample="$istio_samples/liveness-http-same-port.yaml"
injected=$E2E_NAMESPACE authz="$E2E_NAMESPACE-authz" canary="$E2E_NAMESPACE-canary"
istio_namespace "$authz" istio-injection=enabled
istio_namespace "$canary" "istio.io/rev=$istio_canary"

# The seed's kube-inject step, into a namespace without injection.
istioctl kube-inject -f "$sample" | e2e_kubectl apply --namespace "$injected" -f - >/dev/null
e2e_eventually "the kube-injected Deployment left to Istio" 60 istio_reason_is liveness-http "$injected" LeftToIstio without
deployment=$(istio_deployment liveness-http "$injected")
condition=$(istio_condition "$deployment")
echo "condition of the kube-injected Deployment: $(jq -c '{status, reason, message}' <<<"$condition")"
[[ $(jq -r .message <<<"$condition") == *liveness-http* ]] || e2e_fail "the condition does not name the probe: $condition"
[[ $(jq .metadata.generation <<<"$deployment") == 1 ]] || e2e_fail "meshprobe wrote the kube-injected Deployment"

# WhenRequired, PERMISSIVE: nothing breaks; an ALLOW policy for a peer identity denies the kubelet.
e2e_kubectl apply --namespace "$authz" -f - >/dev/null <<'YAML'
apiVersion: meshprobe.io/v1alpha1
kind: HealthProbePolicy
metadata: {name: when-required}
spec: {mode: WhenRequired}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default}
spec: {mtls: {mode: PERMISSIVE}}
YAML
e2e_kubectl apply --namespace "$authz" -f "$sample" >/dev/null
e2e_eventually "NotRequired under PERMISSIVE" 60 istio_reason_is liveness-http "$authz" NotRequired without
e2e_kubectl apply --namespace "$authz" -f - >/dev/null <<'YAML'
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: only-frontend}
spec:
  selector: {matchLabels: {app: liveness-http}}
  action: ALLOW
  rules:
  - from:
    - source: {principals: [cluster.local/ns/frontend/sa/frontend]}
YAML
e2e_eventually "Rewritten once the AuthorizationPolicy denies the kubelet" 60 \
  istio_reason_is liveness-http "$authz" Rewritten with
echo "condition with the AuthorizationPolicy: $(istio_condition "$(istio_deployment liveness-http "$authz")" | jq -c '{reason, message}')"
e2e_kubectl delete authorizationpolicy only-frontend --namespace "$authz" >/dev/null
e2e_eventually "restored once the AuthorizationPolicy is gone" 60 istio_reason_is liveness-http "$authz" NotRequired without

# Revision canary follows its own injector ConfigMap's switch.
e2e_kubectl apply --namespace "$canary" -f "$sample" >/dev/null
e2e_eventually "the canary namespace's Deployment rewritten" 60 istio_reason_is liveness-http "$canary" Rewritten with
istio_set_rewrite "$istio_canary" true false
e2e_eventually "restored when the canary's switch is off" 60 istio_reason_is liveness-http "$canary" DisabledGlobally without
echo "condition with the canary's switch off: $(istio_condition "$(istio_deployment liveness-http "$canary")" | jq -c '{reason, message}')"
[[ $(e2e_kubectl get cm istio-sidecar-injector -n istio-system -o jsonpath='{.data.values}') == *'"rewriteAppHTTPProbe": true'* ]] ||
  e2e_fail "the default revision's switch changed"
istio_set_rewrite "$istio_canary" false true
e2e_eventually "rewritten again when the canary's switch is on" 60 istio_reason_is liveness-http "$canary" Rewritten with
