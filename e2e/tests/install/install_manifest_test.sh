#!/usr/bin/env bash
# The install as a user does it (docs/install.md), on the real API server:
#   - deploy/install.yaml is config/default rendered (deploy/render-install keeps it so);
#   - `kubectl apply -f deploy/install.yaml` is accepted (into a cluster that has the mesh's
#     root namespace istio-system, as a cluster with Istio has), and again with no change;
#   - the CRD is established: `kubectl explain` documents it, the sample policy is accepted and
#     `kubectl get hpp` shows it with its printer columns.
# The controller's Deployment it creates is deleted at the end: on the test node it would not
# be scheduled (the node is tainted), and the other tests run their own controller.
source "$(dirname "$0")/../../harness/lib.sh"
e2e_setup
repository=$(cd "$(dirname "$0")/../../.." && pwd)
work="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE"
mkdir -p "$work"

KUBECTL=$MESHPROBE_E2E_KUBECTL "$repository/deploy/render-install" --stdout >"$work/rendered.yaml"
diff -u "$repository/deploy/install.yaml" "$work/rendered.yaml" >"$work/install.diff" ||
  e2e_fail "deploy/install.yaml is out of date with config/ (run deploy/render-install):" \
    "$(head -40 "$work/install.diff")"

e2e_kubectl create namespace istio-system --dry-run=client -o yaml | e2e_kubectl apply -f - >/dev/null
remove_controller_deployment() {
  e2e_kubectl delete deployment meshprobe-controller --namespace meshprobe-system \
    --ignore-not-found --wait=false >/dev/null
  _e2e_teardown
}
trap remove_controller_deployment EXIT

e2e_kubectl apply -f "$repository/deploy/install.yaml" >"$work/apply.out" ||
  e2e_fail "kubectl apply -f deploy/install.yaml failed: $(cat "$work/apply.out")"
e2e_kubectl wait --for=condition=Established crd/healthprobepolicies.meshprobe.io --timeout=60s >/dev/null
e2e_kubectl apply -f "$repository/deploy/install.yaml" >"$work/reapply.out"
grep -v -E ' (unchanged|configured)$' "$work/reapply.out" &&
  e2e_fail "a second apply of deploy/install.yaml created something: $(cat "$work/reapply.out")"

for kind in ServiceAccount/meshprobe-controller ConfigMap/meshprobe-controller-config \
  Deployment/meshprobe-controller Role/meshprobe-leader-election; do
  e2e_kubectl get "$kind" --namespace meshprobe-system >/dev/null ||
    e2e_fail "deploy/install.yaml did not create $kind in meshprobe-system"
done

explanation=$(e2e_kubectl explain healthprobepolicy.spec)
[[ $explanation == *"DESCRIPTION:"* && $explanation == *"mode"* ]] ||
  e2e_fail "kubectl explain healthprobepolicy.spec does not document the spec: $explanation"

sed "s/namespace: shop/namespace: $E2E_NAMESPACE/" "$repository"/config/samples/*.yaml | e2e_kubectl apply -f - >/dev/null
columns=$(e2e_kubectl get hpp --namespace "$E2E_NAMESPACE" | head -1)
for column in NAME MODE MATCHED REWRITTEN AGE; do
  [[ $columns == *"$column"* ]] || e2e_fail "kubectl get hpp has no column $column: $columns"
done
