#!/usr/bin/env bash
# The README cannot lie: the commands of its first sections, taken from README.md itself (the
# fenced block after each `<!-- readme-test: NAME -->` marker), run as a user runs them, with
# `kubectl` on PATH pointing at the real control plane, each followed by a check of its effect:
#   install         kubectl apply -f deploy/install.yaml; the install's objects exist.
#   install-kustomize  kubectl apply -k config/default over it: nothing new, nothing fails. The
#                   controller's Deployment cannot run here (no schedulable node for it), so
#                   the test deletes it and runs `meshprobe controller` as a child process with
#                   the install's ServiceAccount and the install's ConfigMap (ports on loopback).
#   first-policy    namespace shop in the mesh, STRICT, a WhenRequired policy, a Deployment:
#                   both probes rewritten to the agent, condition Rewritten.
#   status          its output holds the reason and the policy's row (MODE, MATCHED, REWRITTEN).
#   off-workload    the template annotation: DisabledByAnnotation, the original probes back.
#   off-namespace   the policy's mode Never: DisabledByPolicy, the original probes back.
#   off-everywhere  Istio's sed pipeline on the global toggle: DisabledGlobally (the test first
#                   deletes the policy, since the README says the toggle decides only where
#                   nothing more specific does).
# Each "off" block runs from the state "first-policy" left (the test undoes the one before).
# Not run: the quick start's `hack/run` and `hack/test` (hack/test runs this test: it would
# recurse; hack/run starts a cluster of its own) and `rollout status` (no node runs the
# controller's pod here; e2e/tests/node/in_cluster_install_test.sh runs the install in a pod).
# Cluster-wide state is put back at the end: the toggle, namespace shop, the controller.
source "$(dirname "$0")/../../harness/lib.sh"
[[ -x ${MESHPROBE_BINARY:-} ]] || e2e_fail "MESHPROBE_BINARY (the meshprobe binary) is not set (CTest sets it)"
e2e_setup
repository=$(cd "$(dirname "$0")/../../.." && pwd)
work="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE"
mkdir -p "$work/bin"
readme="$repository/README.md"
expected_blocks=(install install-kustomize first-policy status off-workload off-namespace off-everywhere)

# The marked blocks of README.md, one file each in $work/blocks/NAME.sh.
mkdir -p "$work/blocks"
awk -v dir="$work/blocks" '
  match($0, /^<!-- readme-test: [a-z-]+ -->$/) { name = $3; expect_fence = 1; next }
  expect_fence && /^```/ { expect_fence = 0; out = dir "/" name ".sh"; printf "" > out; next }
  expect_fence { print "README.md:" NR ": the marker of " name " is not followed by a code block" > "/dev/stderr"; exit 1 }
  out != "" && /^```/ { close(out); out = ""; next }
  out != "" { print > out }
' "$readme" || e2e_fail "README.md's test markers are malformed"
for name in "${expected_blocks[@]}"; do
  [[ -s $work/blocks/$name.sh ]] || e2e_fail "README.md has no block marked '<!-- readme-test: $name -->'"
done
for file in "$work"/blocks/*.sh; do
  name=$(basename "$file" .sh)
  [[ " ${expected_blocks[*]} " == *" $name "* ]] ||
    e2e_fail "README.md marks a block '$name' that this test does not run: add its check here"
done

# kubectl as a user has it: the pinned one, the cluster's admin kubeconfig.
cat >"$work/bin/kubectl" <<SCRIPT
#!/usr/bin/env bash
exec "$MESHPROBE_E2E_KUBECTL" --kubeconfig="$MESHPROBE_E2E_KUBECONFIG" "\$@"
SCRIPT
chmod +x "$work/bin/kubectl"

# run_block NAME: the README's block, from the repository's root, as `bash -e` runs it.
run_block() {
  local name=$1
  echo "--- README block $name:"
  sed 's/^/    /' "$work/blocks/$name.sh"
  (cd "$repository" && PATH="$work/bin:$PATH" bash -euo pipefail "$work/blocks/$name.sh") \
    >"$work/$name.out" 2>&1 || e2e_fail "the README's block '$name' failed: $(cat "$work/$name.out")"
}

reason() {
  e2e_kubectl get deployment web -n shop \
    -o jsonpath='{.status.conditions[?(@.type=="HealthProbesRewritten")].reason}'
}
has_reason() { [[ $(reason) == "$1" ]] || { reason; return 1; }; }
probe_ports() {
  e2e_kubectl get deployment web -n shop -o jsonpath='{.spec.template.spec.containers[0].livenessProbe.httpGet.port} {.spec.template.spec.containers[0].readinessProbe.httpGet.port}{.spec.template.spec.containers[0].readinessProbe.tcpSocket.port}'
}
rewritten() { [[ $(probe_ports) == "15120 15120" ]] || { probe_ports; return 1; }; }
restored() { [[ $(probe_ports) == "http 8080" ]] || { probe_ports; return 1; }; }
settled() { has_reason "$1" && "$2"; }

# What this test changes cluster-wide, put back at the end.
toggle_existed=false
e2e_kubectl get configmap istio-sidecar-injector -n istio-system -o json >"$work/toggle-before.json" 2>/dev/null &&
  toggle_existed=true
controller_pid=""
cleanup() {
  local status=$?
  [[ -n $controller_pid ]] && kill -TERM "$controller_pid" 2>/dev/null && wait "$controller_pid" 2>/dev/null
  if ((status != 0)) && [[ -f $work/controller.log ]]; then
    echo "----- the controller's log, last 30 lines:" >&2
    tail -30 "$work/controller.log" >&2
  fi
  e2e_kubectl delete namespace shop --ignore-not-found --wait=false >/dev/null || true
  e2e_kubectl delete deployment meshprobe-controller -n meshprobe-system --ignore-not-found --wait=false >/dev/null || true
  if $toggle_existed; then
    e2e_kubectl patch configmap istio-sidecar-injector -n istio-system --type merge \
      -p "{\"data\":{\"values\":$(jq '.data.values' "$work/toggle-before.json")}}" >/dev/null || true
  else
    e2e_kubectl delete configmap istio-sidecar-injector -n istio-system --ignore-not-found >/dev/null || true
  fi
  (exit "$status")
  _e2e_teardown
}
trap cleanup EXIT

# A cluster with Istio has its root namespace; a namespace shop of an earlier run must be gone.
e2e_kubectl create namespace istio-system --dry-run=client -o yaml | e2e_kubectl apply -f - >/dev/null
e2e_eventually "no namespace shop" 120 bash -c "! $work/bin/kubectl get namespace shop"
# Rewriting on, as in a cluster where nobody turned it off.
e2e_kubectl delete configmap istio-sidecar-injector -n istio-system --ignore-not-found >/dev/null

# --- Installing
run_block install
for object in crd/healthprobepolicies.meshprobe.io clusterrole/meshprobe-controller \
  -n\ meshprobe-system\ serviceaccount/meshprobe-controller \
  -n\ meshprobe-system\ configmap/meshprobe-controller-config \
  -n\ istio-system\ role/meshprobe-injector-toggle; do
  # shellcheck disable=SC2086
  e2e_kubectl get $object >/dev/null || e2e_fail "after the README's install there is no $object"
done
e2e_kubectl wait --for=condition=Established crd/healthprobepolicies.meshprobe.io --timeout=60s >/dev/null
run_block install-kustomize
grep -v -E ' (unchanged|configured)$' "$work/install-kustomize.out" &&
  e2e_fail "kubectl apply -k config/default created what deploy/install.yaml had not: $(cat "$work/install-kustomize.out")"
e2e_kubectl delete deployment meshprobe-controller -n meshprobe-system --wait=false >/dev/null
e2e_kubectl get configmap meshprobe-controller-config -n meshprobe-system \
  -o jsonpath='{.data.config\.yaml}' >"$work/config.yaml"
{
  grep -v -E '^(healthProbeBindAddress|metricsBindAddress):' "$work/config.yaml"
  echo "healthProbeBindAddress: \"127.0.0.1:$(e2e_free_port)\""
  echo "metricsBindAddress: \"127.0.0.1:$(e2e_free_port)\""
} >"$work/controller.yaml"
kubeconfig=$(e2e_token_kubeconfig meshprobe-system meshprobe-controller)
POD_NAME=readme-test POD_NAMESPACE=meshprobe-system \
  "$MESHPROBE_BINARY" controller --kubeconfig "$kubeconfig" --config "$work/controller.yaml" \
  >"$work/controller.log" 2>&1 &
controller_pid=$!

# --- A first policy
run_block first-policy
e2e_eventually "the README's Deployment rewritten (condition Rewritten, both probes on the agent)" 90 \
  settled Rewritten rewritten

# --- Reading the status
e2e_eventually "the policy's counts" 30 bash -c \
  "$work/bin/kubectl get hpp shop -n shop --no-headers | grep -E '^shop +WhenRequired +1 +1 '"
run_block status
grep -qx 'Rewritten' "$work/status.out" || e2e_fail "the README's status block does not print the reason Rewritten: $(cat "$work/status.out")"
grep -qE '^NAME +MODE +MATCHED +REWRITTEN +AGE' "$work/status.out" &&
  grep -qE '^shop +WhenRequired +1 +1 ' "$work/status.out" ||
  e2e_fail "the README's status block does not show the policy's row: $(cat "$work/status.out")"
grep -q 'HealthProbesRewritten *True *Rewritten' "$work/status.out" ||
  e2e_fail "kubectl describe shows no condition HealthProbesRewritten: $(cat "$work/status.out")"

# --- Turning it off, each from the state the first policy left
run_block off-workload
e2e_eventually "the README's annotation to restore the probes" 60 settled DisabledByAnnotation restored
e2e_kubectl patch deployment web -n shop --type json \
  -p '[{"op":"remove","path":"/spec/template/metadata/annotations/sidecar.istio.io~1rewriteAppHTTPProbers"}]' >/dev/null
e2e_eventually "the Deployment rewritten again" 60 settled Rewritten rewritten

run_block off-namespace
e2e_eventually "the README's policy mode Never to restore the probes" 60 settled DisabledByPolicy restored
e2e_kubectl delete hpp shop -n shop >/dev/null
e2e_eventually "the Deployment rewritten again by the global toggle" 60 settled Rewritten rewritten

run_block off-everywhere
e2e_eventually "the README's global toggle to restore the probes" 60 settled DisabledGlobally restored
[[ $(e2e_kubectl get configmap istio-sidecar-injector -n istio-system -o jsonpath='{.data.values}') == *'"rewriteAppHTTPProbe": false'* ]] ||
  e2e_fail "the toggle is not false after the README's command"
sleep 3  # the controller never reverts the user's edit of the toggle
has_reason DisabledGlobally >/dev/null || e2e_fail "the toggle was reverted: $(reason)"
