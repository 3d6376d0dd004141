#!/usr/bin/env bash
# The seed's first walkthrough on the node: Istio's liveness-command sample in a pod with the
# mesh stand-in under PeerAuthentication STRICT is `2/2 Running` and stays so; an exec probe
# needs no rewrite (meshprobe inject leaves it as it is).
source "$(dirname "$0")/../../harness/lib.sh"
source "$(dirname "$0")/lib.sh"
node_setup
[[ -x ${MESHPROBE_BINARY:-} ]] || e2e_fail "MESHPROBE_BINARY (the meshprobe binary) is not set (CTest sets it)"

node_manifest strict-mtls.yaml | e2e_apply >/dev/null
manifest=$(node_manifest liveness-command.yaml)
[[ $("$MESHPROBE_BINARY" inject -f - <<<"$manifest") != *meshprobe-agent* ]] ||
  e2e_fail "meshprobe inject added its agent to a Deployment that has only an exec probe"
e2e_apply <<<"$manifest" >/dev/null

e2e_eventually "Deployment liveness Ready" 120 node_deployment_ready liveness
pod=$(node_pod liveness)
# The probe starts after 5 s and runs every 5 s: three periods pass without a restart.
sleep 16
status=$(e2e_kubectl get pod "$pod" --namespace "$E2E_NAMESPACE" --no-headers | awk '{print $2, $3, $4}')
[[ $status == "2/2 Running 0" ]] || e2e_fail "$pod is '$status', expected '2/2 Running 0'"
e2e_kubectl get pod --namespace "$E2E_NAMESPACE"
node_show "$pod"
