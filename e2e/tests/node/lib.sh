# Helpers of the tests on the real node (sourced after ../../harness/lib.sh):
#   source "$(dirname "$0")/lib.sh"
#   node_setup                        # e2e_setup, checks the node, the mesh identity Secret
#   node_apply_manifest seed-app.yaml # manifests/FILE with the images and toleration filled in
#   pod=$(node_pod liveness-http)     # the one pod of a Deployment
#   node_set_health POD http failing  # the test application's control endpoint
#   node_start_controller [ARGS...]   # `meshprobe controller` with config/rbac's identity
# Images: meshprobe's (deploy/images.env) and the tests' own (e2e/testapp/images.env), which
# up --node imports into the node's containerd.
node_tests_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

node_setup() {
  local variable
  for variable in MESHPROBE_E2E_NODE_NAME MESHPROBE_E2E_POD_SUBNET MESHPROBE_E2E_CONTAINERD_ADDRESS; do
    [[ -n ${!variable:-} ]] || e2e_fail "no node in this cluster ($variable not set): run the tests" \
      "with e2e/run (it starts the node), or start a cluster with 'e2e/cluster/up --node BUILD_DIR'."
  done
  e2e_setup
  node_mesh_identity
}

# The mesh's CA, the sidecar's certificate and a client certificate (in $node_pki), and the
# Secret mesh-identity the sidecar stand-in mounts. The sidecar's certificate names mesh-tls
# (curl --resolve mesh-tls:PORT:POD_IP ...).
node_mesh_identity() {
  node_pki="$MESHPROBE_E2E_STATE_DIR/mesh-pki/$E2E_NAMESPACE"
  mkdir -p "$node_pki"
  local name
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 1 \
    -subj "/O=meshprobe-e2e-mesh/CN=mesh-ca" -keyout "$node_pki/ca.key" -out "$node_pki/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
  for name in tls client; do
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj "/CN=mesh-$name" \
      -keyout "$node_pki/$name.key" -out "$node_pki/$name.csr" 2>/dev/null
    printf 'subjectAltName=DNS:mesh-%s\n' "$name" >"$node_pki/$name.ext"
    openssl x509 -req -in "$node_pki/$name.csr" -CA "$node_pki/ca.crt" -CAkey "$node_pki/ca.key" \
      -set_serial "0x$(openssl rand -hex 8)" -days 1 -extfile "$node_pki/$name.ext" \
      -out "$node_pki/$name.crt" 2>/dev/null
  done
  e2e_kubectl create secret generic mesh-identity --namespace "$E2E_NAMESPACE" --dry-run=client -o yaml \
    --from-file="$node_pki/ca.crt" --from-file="$node_pki/tls.crt" --from-file="$node_pki/tls.key" |
    e2e_kubectl apply -f - >/dev/null
}

# node_image KEY: the reference of an end-to-end test image (KEY_IMAGE in e2e/testapp/images.env,
# tagged with MESHPROBE_VERSION of deploy/images.env).
node_image() {
  local root="$node_tests_dir/../../.." image version
  image=$(sed -n "s/^$1_IMAGE=//p" "$root/e2e/testapp/images.env")
  version=$(sed -n 's/^MESHPROBE_VERSION=//p' "$root/deploy/images.env")
  [[ -n $image && -n $version ]] || e2e_fail "no image $1 in e2e/testapp/images.env"
  echo "$image:$version"
}

# node_manifest FILE: manifests/FILE with @TESTAPP_IMAGE@, @MESH_SIDECAR_IMAGE@ and
# @BUSYBOX_IMAGE@ replaced.
node_manifest() {
  sed -e "s|@TESTAPP_IMAGE@|$(node_image TESTAPP)|g" \
    -e "s|@MESH_SIDECAR_IMAGE@|$(node_image MESH_SIDECAR)|g" \
    -e "s|@BUSYBOX_IMAGE@|$(node_image BUSYBOX)|g" "$node_tests_dir/manifests/$1"
}

# The name of the one running (not terminating) pod of Deployment NAME.
node_pod() {
  e2e_kubectl get pods --namespace "$E2E_NAMESPACE" -l "app=$1" -o json |
    jq -r '[.items[] | select(.metadata.deletionTimestamp == null)] | if length == 1 then .[0].metadata.name else empty end'
}

node_pod_ip() { e2e_kubectl get pod "$1" --namespace "$E2E_NAMESPACE" -o jsonpath='{.status.podIP}'; }

# Succeeds when Deployment NAME has exactly one pod, Ready with every container ready
# (READY n/n), and prints it.
node_deployment_ready() {
  local pod
  pod=$(node_pod "$1")
  [[ -n $pod ]] || { echo "Deployment $1 has no single pod yet"; return 1; }
  e2e_kubectl get pod "$pod" --namespace "$E2E_NAMESPACE" -o json | jq -e '
    (.status.conditions // [] | any(.type == "Ready" and .status == "True"))' >/dev/null ||
    { e2e_kubectl get pod "$pod" --namespace "$E2E_NAMESPACE" --no-headers; return 1; }
  echo "$pod"
}

# The restart count of container CONTAINER of POD.
node_restarts() {
  e2e_kubectl get pod "$1" --namespace "$E2E_NAMESPACE" \
    -o jsonpath="{.status.containerStatuses[?(@.name==\"$2\")].restartCount}"
}

node_restarted() { (($(node_restarts "$1" "$2") >= 1)); }

node_pod_ready() {
  [[ $(e2e_kubectl get pod "$1" --namespace "$E2E_NAMESPACE" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == "$2" ]]
}

# node_set_health POD CHECK failing|passing: through the test application's control port,
# which the pods exclude from the mesh's redirect.
node_set_health() {
  local ip
  ip=$(node_pod_ip "$1")
  curl -sf --max-time 5 -X PUT --data "$3" "http://$ip:9090/health/$2" >/dev/null ||
    e2e_fail "cannot set $2 $3 on $1 ($ip:9090)"
}

# node_show POD: what a person would look at (kubectl get -o wide, describe's probes and events).
node_show() {
  e2e_kubectl get pods --namespace "$E2E_NAMESPACE" -o wide
  e2e_kubectl describe pod "$1" --namespace "$E2E_NAMESPACE" |
    grep -E '^(Name:|  [a-z-]+:$)|Liveness:|Readiness:|Startup:|Restart Count:|Ready:|^Events:|^  (Type|----|Normal|Warning)' || true
}

# node_start_controller [ARGS...]: `meshprobe controller` (MESHPROBE_BINARY) with the identity
# of config/rbac (ServiceAccount, ClusterRole, injector Role), ARGS added to its command line
# (metrics off unless they include --metrics-bind-address); stopped, and its log shown on
# failure, when the test exits. Sets controller_pid and controller_log.
node_start_controller() {
  [[ -x ${MESHPROBE_BINARY:-} ]] || e2e_fail "MESHPROBE_BINARY (the meshprobe binary) is not set (CTest sets it)"
  local repository="$node_tests_dir/../../.." kubeconfig
  e2e_kubectl create namespace istio-system --dry-run=client -o yaml | e2e_kubectl apply -f - >/dev/null
  e2e_kubectl apply -f "$repository/config/manager/namespace.yaml" >/dev/null
  e2e_kubectl apply -k "$repository/config/rbac" >/dev/null
  kubeconfig=$(e2e_token_kubeconfig meshprobe-system meshprobe-controller)
  local metrics=(--metrics-bind-address 0)
  [[ " $* " == *" --metrics-bind-address "* ]] && metrics=()
  controller_log="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE.controller.log"
  "$MESHPROBE_BINARY" controller --kubeconfig "$kubeconfig" --health-probe-bind-address 127.0.0.1:0 \
    "${metrics[@]}" "$@" >"$controller_log" 2>&1 &
  controller_pid=$!
  trap _node_stop_controller EXIT
}

_node_stop_controller() {
  local status=$?
  e2e_stop_process "$controller_pid" "$controller_log" "$status" 40
  (exit "$status")
  _e2e_teardown
}
