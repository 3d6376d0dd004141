#!/usr/bin/env bash
# meshprobe installed as a user installs it (deploy/install.yaml), running in a pod on the real
# node from its own image with the in-cluster service-account credentials: the kubelet finds
# it Ready through its /readyz, and it rewrites the seed's HTTP liveness Deployment so that
# the pod, behind the mesh stand-in (STRICT mutual TLS), is READY 3/3 with the agent and its
# condition says so.
# What the test changes in the install, and why (a kustomize overlay over deploy/install.yaml):
#   - the test cluster's API server listens on 127.0.0.1 only and has no kube-proxy, so the
#     controller's pod uses the host's network and KUBERNETES_SERVICE_HOST/PORT name that
#     address (in a real cluster they come from the kubernetes Service), which needs the
#     namespace's Pod Security level "privileged" instead of "restricted";
#   - the node is tainted for the tests' pods: a toleration;
#   - /healthz, /readyz and /metrics on free ports (the host's network is shared).
source "$(dirname "$0")/../../harness/lib.sh"
source "$(dirname "$0")/lib.sh"
node_setup
repository="$node_tests_dir/../../.."
work="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE"
mkdir -p "$work/overlay"

health_port=$(e2e_free_port)
metrics_port=$(e2e_free_port)
[[ $metrics_port != "$health_port" ]] || metrics_port=$(e2e_free_port)
server_address=${MESHPROBE_E2E_SERVER#https://}

cp "$repository/deploy/install.yaml" "$work/overlay/install.yaml"
cat >"$work/overlay/kustomization.yaml" <<EOF
resources: [install.yaml]
patches:
- target: {kind: Namespace, name: meshprobe-system}
  patch: |
    - op: replace
      path: /metadata/labels/pod-security.kubernetes.io~1enforce
      value: privileged
- target: {kind: ConfigMap, name: meshprobe-controller-config}
  patch: |
    - op: replace
      path: /data/config.yaml
      value: |
        rootNamespace: istio-system
        healthProbeBindAddress: ":$health_port"
        metricsBindAddress: ":$metrics_port"
        log: {level: info, format: text}
- target: {kind: Deployment, name: meshprobe-controller}
  patch: |
    - op: add
      path: /spec/template/spec/hostNetwork
      value: true
    - op: add
      path: /spec/template/spec/tolerations
      value: [{key: meshprobe.io/e2e-node, operator: Exists, effect: NoSchedule}]
    - op: add
      path: /spec/template/spec/containers/0/env/-
      value: {name: KUBERNETES_SERVICE_HOST, value: "${server_address%:*}"}
    - op: add
      path: /spec/template/spec/containers/0/env/-
      value: {name: KUBERNETES_SERVICE_PORT, value: "${server_address##*:}"}
    - op: replace
      path: /spec/template/spec/containers/0/ports
      value: [{name: metrics, containerPort: $metrics_port}, {name: health, containerPort: $health_port}]
EOF

e2e_kubectl create namespace istio-system --dry-run=client -o yaml | e2e_kubectl apply -f - >/dev/null
uninstall_controller() {
  local status=$?
  if ((status != 0)); then
    echo "controller pod:" >&2
    e2e_kubectl describe pods --namespace meshprobe-system -l app.kubernetes.io/component=controller >&2 || true
    e2e_kubectl logs --namespace meshprobe-system deployment/meshprobe-controller --tail=60 >&2 || true
  fi
  # The Deployment only: the CRD, RBAC and namespace are what the other tests use too.
  e2e_kubectl delete deployment meshprobe-controller --namespace meshprobe-system --ignore-not-found \
    --timeout=60s >/dev/null || status=1
  (exit "$status")
  _e2e_teardown
}
trap uninstall_controller EXIT

e2e_kubectl apply -k "$work/overlay" >/dev/null
e2e_kubectl rollout status deployment/meshprobe-controller --namespace meshprobe-system --timeout=120s ||
  e2e_fail "the controller's pod did not become Ready"

rewritten() {
  [[ $(e2e_kubectl get deployment "$1" --namespace "$E2E_NAMESPACE" \
    -o jsonpath='{.spec.template.spec.initContainers[*].name}') == *meshprobe-agent* ]]
}
condition() {
  e2e_kubectl get deployment "$1" --namespace "$E2E_NAMESPACE" \
    -o jsonpath='{.status.conditions[?(@.type=="HealthProbesRewritten")].status}'
}
ready_with_agent() {
  rewritten liveness-http || { echo "liveness-http is not rewritten"; return 1; }
  [[ $(condition liveness-http) == True ]] || { echo "condition: $(condition liveness-http)"; return 1; }
  node_deployment_ready liveness-http >/dev/null || { echo "no Ready pod"; return 1; }
  local pod
  pod=$(node_pod liveness-http)
  [[ $(e2e_kubectl get pod "$pod" --namespace "$E2E_NAMESPACE" --no-headers | awk '{print $2, $3}') == "3/3 Running" ]]
}

node_manifest strict-mtls.yaml | e2e_apply >/dev/null
node_manifest seed-app.yaml | e2e_apply >/dev/null
e2e_eventually "the in-cluster controller to rewrite liveness-http, its pod READY 3/3" 180 ready_with_agent
e2e_kubectl get pods --namespace meshprobe-system -o wide
e2e_kubectl get pods --namespace "$E2E_NAMESPACE" -o wide
