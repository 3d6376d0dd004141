# The shell harness of the end-to-end tests (sourced), the counterpart of end_to_end_test.h:
#   source "$(dirname "$0")/../../harness/lib.sh"   # from e2e/tests/<area>/<test>.sh
#   e2e_setup                       # checks the cluster, creates $E2E_NAMESPACE, deletes it on exit
#   e2e_kubectl get pods -n "$E2E_NAMESPACE"          # kubectl as the cluster's administrator
#   e2e_apply <<'EOF' ... EOF       # server-side apply of YAML on stdin into $E2E_NAMESPACE
#   e2e_eventually "the pod to exist" 30 e2e_kubectl get pod web -n "$E2E_NAMESPACE"
#   kubeconfig=$(e2e_service_account_kubeconfig reader get,list configmaps)
#   e2e_fail "what went wrong"      # the test fails with this message
#   port=$(e2e_free_port)           # a TCP port free now (for a server the test starts)
#   e2e_stop_process PID LOG $? 40  # in an EXIT trap: stop it, show its log if the test failed
# A test passes when its script exits 0. Without a cluster (MESHPROBE_E2E_* unset) it fails
# and says how to run it; nothing is skipped.
set -euo pipefail

e2e_fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# A port no socket on the machine uses now, below the kernel's ephemeral range so that outgoing
# connections cannot take it before the test's server starts (as e2e/cluster/lib.sh picks the
# cluster's ports).
e2e_free_port() {
  local ephemeral_start _ port tries
  read -r ephemeral_start _ </proc/sys/net/ipv4/ip_local_port_range
  local low=20000 high=$((ephemeral_start < 32000 ? ephemeral_start : 32000))
  for ((tries = 0; tries < 200; tries++)); do
    port=$((low + RANDOM % (high - low)))
    [[ -z $(ss -Htan "( sport = :$port )") ]] && { echo "$port"; return 0; }
  done
  e2e_fail "no free port between $low and $high"
}

e2e_kubectl() { "$MESHPROBE_E2E_KUBECTL" --kubeconfig="$MESHPROBE_E2E_KUBECONFIG" "$@"; }

e2e_setup() {
  local variable missing=()
  for variable in MESHPROBE_E2E_STATE_DIR MESHPROBE_E2E_KUBECONFIG MESHPROBE_E2E_KUBECTL \
    MESHPROBE_E2E_SERVER MESHPROBE_E2E_CA_FILE MESHPROBE_E2E_LOG_DIR MESHPROBE_E2E_KUBERNETES_VERSION \
    MESHPROBE_E2E_ISTIO_CRDS; do
    [[ -n ${!variable:-} ]] || missing+=("$variable")
  done
  ((${#missing[@]} == 0)) || e2e_fail "no end-to-end cluster: ${missing[*]} not set. Run the" \
    "end-to-end tests with 'e2e/run BUILD_DIR', or start a cluster with 'e2e/cluster/up' and" \
    "'source STATE_DIR/env' first."
  # "e2e-<script name>-<5 random characters>": reruns never meet a terminating namespace.
  local test_name suffix
  test_name=$(basename "${BASH_SOURCE[-1]}" .sh | tr 'A-Z' 'a-z' | tr -c 'a-z0-9\n' '-' | cut -c1-50)
  suffix=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
  E2E_NAMESPACE="e2e-${test_name%-}-${suffix:0:5}"
  export E2E_NAMESPACE
  e2e_kubectl create namespace "$E2E_NAMESPACE" >/dev/null
  trap _e2e_teardown EXIT
  # Pods cannot be created before the service-account controller made "default".
  e2e_eventually "ServiceAccount default in $E2E_NAMESPACE" 60 \
    e2e_kubectl get serviceaccount default --namespace "$E2E_NAMESPACE"
}

_e2e_teardown() {
  local status=$?
  if ((status != 0)); then
    echo "Events in $E2E_NAMESPACE:" >&2
    e2e_kubectl get events --namespace "$E2E_NAMESPACE" --sort-by=.metadata.creationTimestamp >&2 || true
    echo "Component logs: $MESHPROBE_E2E_LOG_DIR" >&2
  fi
  e2e_kubectl delete namespace "$E2E_NAMESPACE" --wait=false >/dev/null || status=1
  ((status == 0)) && echo "PASS"
  exit "$status"
}

# e2e_stop_process PID LOG STATUS LINES: stops a process the test started (SIGTERM, then waits
# for it) and, when the test failed (STATUS not 0), shows the last LINES lines of its LOG.
e2e_stop_process() {
  local pid=$1 log=$2 status=$3 lines=$4
  kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  ((status == 0)) || { echo "log of $pid ($log):" >&2; tail -"$lines" "$log" >&2; }
}

e2e_apply() {
  e2e_kubectl apply --server-side --field-manager=meshprobe-e2e --namespace "$E2E_NAMESPACE" -f -
}

# e2e_eventually DESCRIPTION TIMEOUT_SECONDS COMMAND...: polls COMMAND every 0.2 s until it
# succeeds; fails the test with COMMAND's last output when TIMEOUT_SECONDS pass.
e2e_eventually() {
  local description=$1 timeout=$2 output
  shift 2
  local deadline=$((SECONDS + timeout))
  until output=$("$@" 2>&1); do
    ((SECONDS < deadline)) || e2e_fail "timed out after ${timeout}s waiting for $description; last output: $output"
    sleep 0.2
  done
}

# e2e_service_account_kubeconfig NAME VERBS RESOURCES: ServiceAccount NAME in $E2E_NAMESPACE
# bound to a Role NAME that allows VERBS (get,list) on RESOURCES (configmaps,deployments.apps),
# as `kubectl create role` takes them; prints the path of a kubeconfig that uses its token.
# For other rules apply a Role and RoleBinding yourself and use e2e_token_kubeconfig.
e2e_service_account_kubeconfig() {
  local name=$1 verbs=$2 resources=$3
  e2e_kubectl create serviceaccount "$name" --namespace "$E2E_NAMESPACE" >/dev/null
  e2e_kubectl create role "$name" --namespace "$E2E_NAMESPACE" --verb="$verbs" --resource="$resources" >/dev/null
  e2e_kubectl create rolebinding "$name" --namespace "$E2E_NAMESPACE" --role="$name" \
    --serviceaccount="$E2E_NAMESPACE:$name" >/dev/null
  e2e_token_kubeconfig "$E2E_NAMESPACE" "$name"
}

# e2e_token_kubeconfig NAMESPACE SERVICE_ACCOUNT: prints the path of a kubeconfig with a token
# (valid for an hour) of an existing ServiceAccount.
e2e_token_kubeconfig() {
  local namespace=$1 service_account=$2 token file
  token=$(e2e_kubectl create token "$service_account" --namespace "$namespace" --duration=1h)
  mkdir -p "$MESHPROBE_E2E_STATE_DIR/kubeconfigs"
  file="$MESHPROBE_E2E_STATE_DIR/kubeconfigs/$namespace.$service_account.kubeconfig"
  local user="system:serviceaccount:$namespace:$service_account"
  "$MESHPROBE_E2E_KUBECTL" config --kubeconfig="$file" set-cluster meshprobe-e2e \
    --server="$MESHPROBE_E2E_SERVER" --certificate-authority="$MESHPROBE_E2E_CA_FILE" >/dev/null
  "$MESHPROBE_E2E_KUBECTL" config --kubeconfig="$file" set-credentials "$user" --token="$token" >/dev/null
  "$MESHPROBE_E2E_KUBECTL" config --kubeconfig="$file" set-context "$user" --cluster=meshprobe-e2e \
    --user="$user" --namespace="$namespace" >/dev/null
  "$MESHPROBE_E2E_KUBECTL" config --kubeconfig="$file" use-context "$user" >/dev/null
  echo "$file"
}
