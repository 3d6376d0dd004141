#!/usr/bin/env bash
# The cluster is the pinned one, with every Istio CRD of the pinned istio.io/api served, and
# the shell harness works: a fresh namespace, apply, eventually, a service-account token held
# to its Role.
source "$(dirname "$0")/../../harness/lib.sh"
e2e_setup

server_version=$(e2e_kubectl version --output=json | jq -r .serverVersion.gitVersion)
[[ $server_version == "v$MESHPROBE_E2E_KUBERNETES_VERSION" ]] ||
  e2e_fail "server is $server_version, pinned v$MESHPROBE_E2E_KUBERNETES_VERSION"

expected_crds=$(grep -c '^kind: CustomResourceDefinition' "$MESHPROBE_E2E_ISTIO_CRDS")
established=$(e2e_kubectl get crds -o json | jq '[.items[] | select(.spec.group | endswith("istio.io"))
  | select(any(.status.conditions[]; .type == "Established" and .status == "True"))] | length')
((expected_crds > 0 && established == expected_crds)) ||
  e2e_fail "$established of $expected_crds Istio CRDs are established"
versions=$(e2e_kubectl get crd peerauthentications.security.istio.io \
  -o jsonpath='{range .spec.versions[?(@.served==true)]}{.name} {end}')
[[ $versions == *"v1 "* && $versions == *"v1beta1 "* ]] ||
  e2e_fail "PeerAuthentication serves '$versions', expected v1 and v1beta1"

e2e_apply <<'YAML' >/dev/null
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: strict
YAML
e2e_eventually "ConfigMap settings" 30 e2e_kubectl get configmap settings --namespace "$E2E_NAMESPACE"

kubeconfig=$(e2e_service_account_kubeconfig reader get,list configmaps)
reader() { "$MESHPROBE_E2E_KUBECTL" --kubeconfig="$kubeconfig" "$@"; }
[[ $(reader get configmap settings -o jsonpath='{.data.mode}') == strict ]] ||
  e2e_fail "the reader cannot read ConfigMap settings"
if output=$(reader get secrets 2>&1); then e2e_fail "the reader listed secrets: $output"; fi
[[ $output == *forbidden* ]] || e2e_fail "expected forbidden, got: $output"
[[ $(reader auth can-i delete configmaps) == no ]] || e2e_fail "the reader may delete configmaps"
