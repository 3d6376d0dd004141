# Shared by the reliability tests (sourced after harness/lib.sh and harness/audit.sh): the
# controller as a child process with the install's identity (config/rbac's ServiceAccount,
# one token per replica, so the audit log tells replicas apart), Deployments in bulk, and the
# checks every test makes.
#   reliability_setup                  # e2e_setup, the CRDs, config/rbac, istio-system
#   controller_config FILE ["key: value"...]  # a config file for tests (loopback ports, short lease)
#   start_controller NAME CONFIG [SERVER]  # replica NAME (through SERVER, default the cluster's);
#                                      # controller_pid[NAME], controller_id[NAME]
#   create_deployments FIRST COUNT     # app-FIRST.. in $E2E_NAMESPACE: even HTTP, odd TCP probes
#   count_converged                    # how many are rewritten with HealthProbesRewritten=True
#   e2e_eventually "..." 60 all_converged COUNT
#   rolled_out_once                    # each: generation 2, observed, at most two ReplicaSets
[[ -x ${MESHPROBE_BINARY:-} ]] || e2e_fail "MESHPROBE_BINARY (the meshprobe binary) is not set (CTest sets it)"
reliability_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repository=$(cd "$reliability_dir/../../.." && pwd)
declare -A controller_pid=() controller_id=() controller_log=()

reliability_setup() {
  e2e_setup
  trap _reliability_teardown EXIT
  # In Istio's sidecar mesh: meshprobe rewrites only there (docs/istio.md).
  e2e_kubectl label namespace "$E2E_NAMESPACE" istio-injection=enabled >/dev/null
  e2e_kubectl create namespace istio-system --dry-run=client -o yaml | e2e_kubectl apply -f - >/dev/null
  e2e_kubectl apply -f "$repository/crds/" >/dev/null
  e2e_kubectl apply -f "$repository/config/manager/namespace.yaml" >/dev/null
  e2e_kubectl apply -k "$repository/config/rbac" >/dev/null
  # Rewriting on: the controller creates the injector ConfigMap with its defaultRewrite (true).
  e2e_kubectl delete configmap istio-sidecar-injector -n istio-system --ignore-not-found >/dev/null
}

_reliability_teardown() {
  local status=$? name
  for name in "${!controller_pid[@]}"; do
    kill -TERM "${controller_pid[$name]}" 2>/dev/null && wait "${controller_pid[$name]}" 2>/dev/null
    if ((status != 0)); then
      echo "----- controller $name (${controller_log[$name]}), last 30 lines:" >&2
      tail -30 "${controller_log[$name]}" >&2
    fi
  done
  [[ $(type -t reliability_cleanup) == function ]] && reliability_cleanup
  (exit "$status")
  _e2e_teardown
}

# controller_config FILE [KEY: VALUE lines]: the install's keys with settings for tests: health
# and metrics on free loopback ports, leader election in seconds (on the install's Lease: its
# Role allows no other), no rollout pacing (these tests count writes and time, not rollouts).
# Extra lines (e.g. "workers: 8") override.
controller_config() {
  local file=$1
  shift
  {
    echo "workers: 4"
    echo "apiQPS: 50"
    echo "apiBurst: 100"
    echo "maxConcurrentRollouts: 0"
    echo "healthProbeBindAddress: \"127.0.0.1:$(e2e_free_port)\""
    echo "metricsBindAddress: \"127.0.0.1:$(e2e_free_port)\""
    echo "leaderElection: {enabled: true, leaseDuration: 6s, renewDeadline: 4s, retryPeriod: 1s}"
    echo "log: {level: info, format: text}"
    printf '%s\n' "$@"
  } | awk -F: '!seen[$1]++' <(printf '%s\n' "$@") - >"$file"
}

# start_controller NAME CONFIG [SERVER]: a replica with its own token of the install's
# ServiceAccount, talking to SERVER (default the cluster's API server; a proxy's address).
start_controller() {
  local name=$1 config=$2 server=${3:-} kubeconfig
  kubeconfig=$(e2e_token_kubeconfig meshprobe-system meshprobe-controller)
  cp "$kubeconfig" "$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE.$name.kubeconfig"
  kubeconfig="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE.$name.kubeconfig"
  [[ -z $server ]] ||
    "$MESHPROBE_E2E_KUBECTL" config --kubeconfig="$kubeconfig" set-cluster meshprobe-e2e --server="$server" >/dev/null
  controller_id[$name]=$(audit_credential_id "$kubeconfig")
  controller_log[$name]="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE.controller-$name.log"
  POD_NAME="$E2E_NAMESPACE-$name" POD_NAMESPACE=meshprobe-system \
    "$MESHPROBE_BINARY" controller --kubeconfig "$kubeconfig" --config "$config" \
    >>"${controller_log[$name]}" 2>&1 &
  controller_pid[$name]=$!
}

# The address of a replica's /metrics, from its config.
metrics_url() { echo "http://$(sed -n 's/^metricsBindAddress: "\(.*\)"/\1/p' "$1")/metrics"; }

# metric_value CONFIG NAME LABEL=\"VALUE\"...: the sum of the samples of NAME with those labels.
metric_value() {
  local config=$1 name=$2
  shift 2
  curl -sf "$(metrics_url "$config")" | awk -v name="$name" -v labels="$*" '
    index($1, name "{") == 1 || $1 == name {
      n = split(labels, wanted, " ")
      for (i = 1; i <= n; i++) if (!index($1, wanted[i])) next
      sum += $2
    }
    END {print sum + 0}'
}

# create_deployments FIRST COUNT [SERVER]: Deployments app-FIRST ... (even ones with HTTP
# probes, odd ones TCP; replicas 0: nothing to schedule) in $E2E_NAMESPACE, through SERVER
# (default the cluster's API server).
create_deployments() {
  local first=$1 count=$2 server=${3:-$MESHPROBE_E2E_SERVER} index name probe
  for ((index = first; index < first + count; index++)); do
    printf -v name 'app-%03d' "$index"
    if ((index % 2 == 0)); then
      probe='{httpGet: {path: /healthz, port: 8080}}'
    else
      probe='{tcpSocket: {port: 8081}}'
    fi
    cat <<YAML
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: $name, labels: {app: $name}}
spec:
  replicas: 0
  selector: {matchLabels: {app: $name}}
  template:
    metadata: {labels: {app: $name}}
    spec:
      containers:
      - name: app
        image: registry.local/app:1.0
        ports: [{containerPort: 8080}, {containerPort: 8081}]
        livenessProbe: $probe
        readinessProbe: $probe
YAML
  done | e2e_kubectl --server="$server" create --namespace "$E2E_NAMESPACE" -f - >/dev/null
}

# deployments_json [SERVER]: the test's Deployments as JSON.
deployments_json() {
  e2e_kubectl --server="${1:-$MESHPROBE_E2E_SERVER}" get deployments --namespace "$E2E_NAMESPACE" -o json
}

# The jq filters of what "converged" means for one Deployment.
jq_rewritten='([.spec.template.spec.initContainers[]?.name] | index("meshprobe-agent")) != null'
jq_condition='[.status.conditions[]? | select(.type == "HealthProbesRewritten")][0]'

count_converged() {
  deployments_json | jq "[.items[] | select($jq_rewritten and ($jq_condition).status == \"True\")] | length"
}

# all_rewritten COUNT: COUNT Deployments, each rewritten, with the condition True.
all_rewritten() {
  (($(count_converged) == $1)) || { echo "$(count_converged) of $1 rewritten with the condition True"; return 1; }
}

# all_converged COUNT: all_rewritten, and each observed by the deployment controller.
all_converged() {
  local want=$1
  deployments_json | jq -e --argjson want "$want" "
    [.items[] | select($jq_rewritten and ($jq_condition).status == \"True\"
                       and .status.observedGeneration == .metadata.generation)] | length == \$want" >/dev/null ||
    { echo "$(count_converged) of $want rewritten with the condition True"; return 1; }
}

# rolled_out_once [NAMES...]: each Deployment (default all of the test's) has generation 2
# (created, then rewritten once), observedGeneration 2 and one or two ReplicaSets (one when
# the rewrite came before kube-controller-manager's first look).
rolled_out_once() {
  local json replica_sets problems
  json=$(deployments_json)
  replica_sets=$(e2e_kubectl get replicasets --namespace "$E2E_NAMESPACE" -o json |
    jq '[.items[].metadata.ownerReferences[0].name] | group_by(.) | map({(.[0]): length}) | add // {}')
  problems=$(jq -r --argjson sets "$replica_sets" --arg names "$*" '
    .items[] | .metadata.name as $name
    | select($names == "" or ($names | split(" ") | index($name)))
    | select(.metadata.generation != 2 or .status.observedGeneration != 2 or ($sets[$name] // 0) < 1 or ($sets[$name] // 0) > 2)
    | "\($name): generation \(.metadata.generation), observed \(.status.observedGeneration), \($sets[$name] // 0) ReplicaSets"' <<<"$json")
  [[ -z $problems ]] || { echo "rolled out more (or less) than once: $problems"; return 1; }
}

# writes_in_namespace ID FROM TO RESOURCE_REGEX: successful writes of credential ID to the
# test's namespace.
writes_in_namespace() {
  audit_requests "$1" "$2" "$3" |
    awk -v pattern="$4" -v path="/namespaces/$E2E_NAMESPACE/" '
      $2 ~ /^(create|update|patch|delete)$/ && $3 ~ pattern && $4 ~ /^2/ && index($5, path)' | wc -l
}
