#!/usr/bin/env bash
# meshprobe installed, upgraded and uninstalled with the real helm (built from source at the
# pinned version, e2e/cluster/build-helm) from deploy/helm/meshprobe, as docs/helm.md says:
#   - `helm install --create-namespace`: the CRD from crds/, the controller Ready on the real node
#     from the project's image, and it rewrites the seed's HTTP liveness Deployment (its pod READY
#     3/3 behind the mesh stand-in's STRICT mutual TLS);
#   - `helm upgrade` with changed values (config.rootNamespace and config.defaultRewrite): the
#     controller restarts with the new config (checksum/config), creates the injector ConfigMap
#     in the new root namespace with the toggle off, and restores the seed's probes;
#   - `helm uninstall`: everything of the release is gone but the CRD (Helm never deletes crds/),
#     and HealthProbePolicies survive.
# What the test sets, and why (the same as in_cluster_install_test.sh, here through values): the
# test cluster's API server listens on 127.0.0.1 only and has no kube-proxy, so the controller
# uses the host's network (hostNetwork) and KUBERNETES_SERVICE_HOST/PORT (extraEnv) name that
# address; the node is tainted for the tests' pods (tolerations); /healthz and /metrics on free
# ports (config.*BindAddress). The commands and their output go to the test's log.
source "$(dirname "$0")/../../harness/lib.sh"
source "$(dirname "$0")/../node/lib.sh"
[[ -x ${MESHPROBE_E2E_HELM:-} ]] || e2e_fail "MESHPROBE_E2E_HELM is not set: run the end-to-end tests" \
  "with e2e/run, or export MESHPROBE_E2E_HELM=\$(e2e/cluster/build-helm)"
node_setup
repository=$(cd "$(dirname "$0")/../../.." && pwd)
chart="$repository/deploy/helm/meshprobe"
work="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE"
mkdir -p "$work"
release_namespace="$E2E_NAMESPACE-meshprobe"
new_root="$E2E_NAMESPACE-root"
export HELM_CACHE_HOME="$work/helm/cache" HELM_CONFIG_HOME="$work/helm/config" HELM_DATA_HOME="$work/helm/data"
e2e_helm() {
  echo "\$ helm $*" >&2
  "$MESHPROBE_E2E_HELM" --kubeconfig "$MESHPROBE_E2E_KUBECONFIG" "$@"
}

health_port=$(e2e_free_port)
metrics_port=$(e2e_free_port)
[[ $metrics_port != "$health_port" ]] || metrics_port=$(e2e_free_port)
server_address=${MESHPROBE_E2E_SERVER#https://}
cat >"$work/values.yaml" <<EOF
hostNetwork: true
tolerations: [{key: meshprobe.io/e2e-node, operator: Exists, effect: NoSchedule}]
extraEnv:
- {name: KUBERNETES_SERVICE_HOST, value: "${server_address%:*}"}
- {name: KUBERNETES_SERVICE_PORT, value: "${server_address##*:}"}
config:
  healthProbeBindAddress: ":$health_port"
  metricsBindAddress: ":$metrics_port"
  log: {level: info, format: text}
EOF

e2e_kubectl create namespace istio-system --dry-run=client -o yaml | e2e_kubectl apply -f - >/dev/null
e2e_kubectl create namespace "$new_root" --dry-run=client -o yaml | e2e_kubectl apply -f - >/dev/null
# The objects of a `kubectl apply -f deploy/install.yaml` that other tests made have the names
# the chart uses: Helm refuses to take over objects it did not create (docs/helm.md "Moving from
# install.yaml to Helm"), so they go first. The CRD stays (Helm skips an existing one).
"$MESHPROBE_E2E_HELM" template meshprobe "$chart" --namespace meshprobe-system |
  e2e_kubectl delete -f - --ignore-not-found --wait=true >/dev/null
e2e_kubectl delete deployment meshprobe-controller --namespace meshprobe-system --ignore-not-found >/dev/null
e2e_kubectl delete configmap istio-sidecar-injector --namespace istio-system --ignore-not-found >/dev/null

cleanup() {
  local status=$?
  if ((status != 0)); then
    e2e_kubectl describe pods --namespace "$release_namespace" >&2 || true
    e2e_kubectl logs --namespace "$release_namespace" deployment/meshprobe-controller --tail=60 >&2 || true
  fi
  "$MESHPROBE_E2E_HELM" --kubeconfig "$MESHPROBE_E2E_KUBECONFIG" uninstall meshprobe \
    --namespace "$release_namespace" --wait >/dev/null 2>&1 || true
  e2e_kubectl delete namespace "$release_namespace" "$new_root" --ignore-not-found --wait=false >/dev/null || status=1
  (exit "$status")
  _e2e_teardown
}
trap cleanup EXIT

echo "=== helm lint"
e2e_helm lint "$chart" --strict || e2e_fail "helm lint failed"

echo "=== helm install"
e2e_helm install meshprobe "$chart" --namespace "$release_namespace" --create-namespace \
  --values "$work/values.yaml" --wait --timeout 3m || e2e_fail "helm install failed"
e2e_kubectl rollout status deployment/meshprobe-controller --namespace "$release_namespace" --timeout=120s ||
  e2e_fail "the controller's pod did not become Ready"
e2e_kubectl get pods --namespace "$release_namespace" -o wide
e2e_kubectl get crd healthprobepolicies.meshprobe.io >/dev/null || e2e_fail "helm install did not install the CRD"
[[ $(e2e_kubectl get deployment meshprobe-controller --namespace "$release_namespace" \
  -o jsonpath='{.metadata.labels.app\.kubernetes\.io/managed-by}') == Helm ]] ||
  e2e_fail "the controller's Deployment is not labelled as Helm's"

rewritten() {
  [[ $(e2e_kubectl get deployment liveness-http --namespace "$E2E_NAMESPACE" \
    -o jsonpath='{.spec.template.spec.initContainers[*].name}') == *meshprobe-agent* ]]
}
reason() {
  e2e_kubectl get deployment liveness-http --namespace "$E2E_NAMESPACE" \
    -o jsonpath='{.status.conditions[?(@.type=="HealthProbesRewritten")].reason}'
}
ready_with_agent() {
  rewritten || { echo "liveness-http is not rewritten"; return 1; }
  [[ $(reason) == Rewritten ]] || { echo "condition reason: $(reason)"; return 1; }
  node_deployment_ready liveness-http >/dev/null || { echo "no Ready pod"; return 1; }
  [[ $(e2e_kubectl get pod "$(node_pod liveness-http)" --namespace "$E2E_NAMESPACE" --no-headers |
    awk '{print $2, $3}') == "3/3 Running" ]]
}
node_manifest strict-mtls.yaml | e2e_apply >/dev/null
node_manifest seed-app.yaml | e2e_apply >/dev/null
e2e_eventually "the controller installed by helm to rewrite liveness-http, its pod READY 3/3" 180 ready_with_agent
e2e_kubectl get pods --namespace "$E2E_NAMESPACE"

echo "=== helm upgrade"
first_pod=$(e2e_kubectl get pods --namespace "$release_namespace" -l app.kubernetes.io/component=controller \
  -o jsonpath='{.items[0].metadata.name}')
# New ports too: on the host's network the new pod cannot share the old one's while both run
# (the scheduler treats them as host ports).
new_health_port=$(e2e_free_port)
new_metrics_port=$(e2e_free_port)
[[ $new_metrics_port != "$new_health_port" ]] || new_metrics_port=$(e2e_free_port)
e2e_helm upgrade meshprobe "$chart" --namespace "$release_namespace" --values "$work/values.yaml" \
  --set config.rootNamespace="$new_root" --set config.defaultRewrite=false \
  --set config.healthProbeBindAddress=":$new_health_port" --set config.metricsBindAddress=":$new_metrics_port" \
  --wait --timeout 3m ||
  e2e_fail "helm upgrade failed"
e2e_kubectl rollout status deployment/meshprobe-controller --namespace "$release_namespace" --timeout=120s ||
  e2e_fail "the upgraded controller did not become Ready"
e2e_helm history meshprobe --namespace "$release_namespace"
first_pod_gone() {
  ! e2e_kubectl get pod "$first_pod" --namespace "$release_namespace" >/dev/null 2>&1
}
e2e_eventually "the controller pod of revision 1 to be gone (the changed config restarts it)" 90 first_pod_gone
toggle_in_new_root() {
  e2e_kubectl get configmap istio-sidecar-injector --namespace "$new_root" -o jsonpath='{.data.values}' |
    grep -q '"rewriteAppHTTPProbe": false'
}
e2e_eventually "the upgraded controller to create the toggle (off) in its new root namespace $new_root" 120 \
  toggle_in_new_root
restored() {
  ! rewritten || { echo "liveness-http is still rewritten"; return 1; }
  [[ $(reason) == DisabledGlobally ]] || { echo "condition reason: $(reason)"; return 1; }
}
e2e_eventually "the upgraded controller to restore liveness-http (global toggle off)" 120 restored
e2e_kubectl get deployment liveness-http --namespace "$E2E_NAMESPACE" \
  -o jsonpath='{.status.conditions[?(@.type=="HealthProbesRewritten")].message}{"\n"}'

echo "=== helm uninstall"
sed "s/namespace: shop/namespace: $E2E_NAMESPACE/" "$repository"/config/samples/*.yaml | e2e_kubectl apply -f - >/dev/null
e2e_helm uninstall meshprobe --namespace "$release_namespace" --wait --timeout 2m || e2e_fail "helm uninstall failed"
e2e_kubectl get crd healthprobepolicies.meshprobe.io >/dev/null ||
  e2e_fail "helm uninstall deleted the CRD (crds/ must outlive the release)"
e2e_kubectl get hpp payments --namespace "$E2E_NAMESPACE" >/dev/null ||
  e2e_fail "the HealthProbePolicy did not survive helm uninstall"
for object in clusterrole/meshprobe-controller clusterrolebinding/meshprobe-controller \
  clusterrole/meshprobe-preview; do
  e2e_kubectl get "$object" >/dev/null 2>&1 && e2e_fail "helm uninstall left $object"
done
for object in deployment/meshprobe-controller configmap/meshprobe-controller-config \
  serviceaccount/meshprobe-controller role/meshprobe-leader-election; do
  e2e_kubectl get "$object" --namespace "$release_namespace" >/dev/null 2>&1 && e2e_fail "helm uninstall left $object"
done
e2e_kubectl get role meshprobe-injector-toggle --namespace "$new_root" >/dev/null 2>&1 &&
  e2e_fail "helm uninstall left the injector Role in $new_root"
echo "helm uninstall removed the release and kept the CRD and the policies"
