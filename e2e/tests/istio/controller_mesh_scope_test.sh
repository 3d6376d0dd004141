#!/usr/bin/env bash
# meshprobe controller next to Istio's real injector (issue 13), one rewrite per probe:
#   - injection-labelled namespace: the seed's liveness-http is rewritten once (generation 2 and
#     stays), with Istio's per-pod switch sidecar.istio.io/rewriteAppHTTPProbers "False" on the
#     template; its Pods, as Istio's webhook admitted them, have istio-proxy and probe
#     meshprobe's agent directly (:15120, no chain through :15020), istio-proxy's
#     ISTIO_KUBE_APP_PROBERS holds none of meshprobe's paths;
#   - a labelled namespace with a HealthProbePolicy Never: reason DisabledByPolicy, and its Pods
#     keep the direct probe (Istio did not rewrite them either);
#   - an unlabelled namespace: reason NotInMesh, the Deployment never written;
#   - the labelled namespace moved to ambient: the original probes back in one write (reason
#     Ambient).
# The node is tainted: Pods stay Pending; the test reads them as the API server admitted them.
source "$(dirname "$0")/../../harness/lib.sh"
source "$(dirname "$0")/lib.sh"
istio_setup
istio_start_controller
sample="$istio_samples/liveness-http-same-port.yaml"
mesh=$E2E_NAMESPACE never="$E2E_NAMESPACE-never" plain="$E2E_NAMESPACE-plain"
istio_label_namespace istio-injection=enabled
istio_namespace "$never" istio-injection=enabled
istio_namespace "$plain"
e2e_kubectl apply --namespace "$never" -f - >/dev/null <<'YAML'
apiVersion: meshprobe.io/v1alpha1
kind: HealthProbePolicy
metadata: {name: never}
spec: {mode: Never}
YAML
for namespace in "$mesh" "$never" "$plain"; do
  e2e_kubectl apply --namespace "$namespace" -f "$sample" >/dev/null
done

e2e_eventually "liveness-http rewritten in the injection-labelled namespace" 60 \
  istio_reason_is liveness-http "$mesh" Rewritten with
e2e_eventually "DisabledByPolicy in the Never namespace" 60 istio_reason_is liveness-http "$never" DisabledByPolicy without
e2e_eventually "NotInMesh in the unlabelled namespace" 60 istio_reason_is liveness-http "$plain" NotInMesh without
sleep 5  # a converged Deployment is never written again
deployment=$(istio_deployment liveness-http "$mesh")
[[ $(jq .metadata.generation <<<"$deployment") == 2 ]] ||
  e2e_fail "the rewrite took $(($(jq .metadata.generation <<<"$deployment") - 1)) writes, not one"
[[ $(jq -r '.spec.template.metadata.annotations["sidecar.istio.io/rewriteAppHTTPProbers"]' <<<"$deployment") == False ]] ||
  e2e_fail "meshprobe did not hold Istio's per-pod rewrite off: $(jq -c .spec.template.metadata.annotations <<<"$deployment")"
[[ $(istio_deployment liveness-http "$plain" | jq .metadata.generation) == 1 ]] ||
  e2e_fail "the Deployment outside the mesh was written"
for namespace in "$mesh" "$never" "$plain"; do
  echo "condition in $namespace: $(istio_condition "$(istio_deployment liveness-http "$namespace")" | jq -c '{status, reason, message}')"
done

# pod_where NAMESPACE JQ_CONDITION: a Pod of liveness-http there that satisfies it (the first
# Pod may be of the template before meshprobe's write, created in the same second).
pod_where() {
  e2e_kubectl get pods --namespace "$1" -l app=liveness-http -o json |
    jq -e "[.items[] | select($2)] | last // empty"
}
probe_of() { istio_container "$1" liveness-http | jq -c '.livenessProbe.httpGet | {path, port}'; }
agent_pod() { pod_where "$mesh" '[.spec.initContainers[]?, .spec.containers[] | select(.name == "meshprobe-agent")] | length > 0'; }
e2e_eventually "a Pod of the rewritten template" 60 agent_pod
pod=$(agent_pod)
echo "The Pod as Istio's webhook admitted it:"
istio_show_pod "$pod"
istio_container "$pod" istio-proxy >/dev/null || e2e_fail "Istio's webhook did not inject the rewritten Pod"
[[ $(probe_of "$pod") == '{"path":"/app-health/liveness-http/livez","port":15120}' ]] ||
  e2e_fail "the Pod does not probe meshprobe's agent directly: $(probe_of "$pod")"
[[ $(istio_app_probers "$pod") != *15120* && $(istio_app_probers "$pod") != *app-health* ]] ||
  e2e_fail "istio-proxy's ISTIO_KUBE_APP_PROBERS chains meshprobe's probes: $(istio_app_probers "$pod")"
agent_probers=$(istio_container "$pod" meshprobe-agent | jq '.env | map(select(.name == "ISTIO_KUBE_APP_PROBERS")) | .[0].value | fromjson')
[[ $(jq -c '."/app-health/liveness-http/livez".httpGet | {path, port}' <<<"$agent_probers") == '{"path":"/foo","port":8001}' ]] ||
  e2e_fail "the agent does not hold the original probe: $agent_probers"

# The first Pod may predate meshprobe's hold (Istio rewrote it); the template's next one not.
held_pod() { pod_where "$never" '.metadata.annotations["sidecar.istio.io/rewriteAppHTTPProbers"] == "False"'; }
e2e_eventually "a Pod of the held template in the Never namespace" 60 held_pod
pod=$(held_pod)
istio_container "$pod" istio-proxy >/dev/null || e2e_fail "the Never namespace's Pod was not injected"
[[ $(probe_of "$pod") == '{"path":"/foo","port":8001}' ]] ||
  e2e_fail "Never does not hold at the Pod: $(probe_of "$pod")"
[[ $(istio_app_probers "$pod") == null ]] || e2e_fail "Istio rewrote the Never Pod: $(istio_app_probers "$pod")"

# From sidecars to ambient: the original probes back in one write.
generation=$(istio_deployment liveness-http "$mesh" | jq .metadata.generation)
e2e_kubectl label namespace "$mesh" istio-injection- istio.io/dataplane-mode=ambient >/dev/null
e2e_eventually "liveness-http restored when its namespace moved to ambient" 60 \
  istio_reason_is liveness-http "$mesh" Ambient without
sleep 3
deployment=$(istio_deployment liveness-http "$mesh")
[[ $(jq .metadata.generation <<<"$deployment") == $((generation + 1)) ]] ||
  e2e_fail "the restore took $(($(jq .metadata.generation <<<"$deployment") - generation)) writes, not one"
[[ $(jq -c '.spec.template.spec.containers[0].livenessProbe.httpGet | {path, port}' <<<"$deployment") == '{"path":"/foo","port":8001}' ]] ||
  e2e_fail "not the original probe after the move to ambient: $(jq -c .spec.template.spec.containers[0].livenessProbe <<<"$deployment")"
[[ $(jq -r '.spec.template.metadata.annotations["sidecar.istio.io/rewriteAppHTTPProbers"] // "none"' <<<"$deployment") == none ]] ||
  e2e_fail "meshprobe's hold on Istio's rewrite stayed after the restore"
echo "condition after the move to ambient: $(istio_condition "$deployment" | jq -c '{status, reason, message}')"
