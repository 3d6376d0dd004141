# Istio's sidecar injector on the cluster (sourced by up; see docs/testing-istio.md). For each
# revision of lib.sh's istio_revisions, as Istio's charts install it (build --istio rendered
# them with istioctl manifest generate):
#   - the ConfigMaps istio[-REV] (mesh) and istio-sidecar-injector[-REV] (templates, values) in
#     istio-system, applied as rendered;
#   - the injector (istiobin/sidecar-injector: istio.io/istio/pkg/kube/inject behind HTTPS on
#     127.0.0.1) watching those ConfigMaps, a component like the others;
#   - the chart's MutatingWebhookConfigurations, with only their clientConfig changed from the
#     istiod Service to the injector's URL and the CA of this cluster.
# Needs: lib.sh, up's issue_certificate, wait_for_component and admin, and the port lock (fd 9).

istio_namespace=istio-system

# istio_suffix REVISION: "" for the default revision, "-REVISION" otherwise (Istio's naming).
istio_suffix() { [[ $1 == default ]] && echo "" || echo "-$1"; }

# start_istio STATE_DIR: certificate, ConfigMaps, one injector per revision, webhooks.
start_istio() {
  local state_dir=$1 pki="$1/pki" revision suffix port name ca_bundle
  istio_present || die "Istio's parts are not built (e2e/cluster/build --istio)"
  issue_certificate istio-sidecar-injector-serving "/CN=istio-sidecar-injector" serverAuth "$loopback_names"
  ca_bundle=$(base64 -w0 "$pki/ca.crt")
  admin create namespace "$istio_namespace" >/dev/null
  for revision in "${istio_revisions[@]}"; do
    suffix=$(istio_suffix "$revision")
    name="istio-sidecar-injector$suffix"
    admin apply --server-side --field-manager=meshprobe-e2e \
      -f "$istio_config_dir/$revision/configmaps.json" >>"$state_dir/logs/istio-config.log"
    port=$(pick_free_port)
    start_component "$state_dir" "$name" "$istio_bin_dir/sidecar-injector" \
      --kubeconfig="$state_dir/kubeconfig" --namespace="$istio_namespace" \
      --revision="$revision" --listen="127.0.0.1:$port" \
      --tls-cert="$pki/istio-sidecar-injector-serving.crt" --tls-key="$pki/istio-sidecar-injector-serving.key"
    wait_for_component "$name" "serves revision $revision" 120 \
      curl -sf --cacert "$pki/ca.crt" "https://127.0.0.1:$port/ready"
    # The chart's webhooks call istiod's Service at PATH; here the injector's URL at PATH.
    jq --arg base "https://127.0.0.1:$port" --arg ca "$ca_bundle" '.items |= map(.webhooks |= map(
        .clientConfig = {url: ($base + (.clientConfig.service.path // "/inject")), caBundle: $ca}))' \
      "$istio_config_dir/$revision/mutatingwebhookconfigurations.json" |
      admin apply --server-side --field-manager=meshprobe-e2e -f - >>"$state_dir/logs/istio-config.log"
    echo "$revision $port" >>"$state_dir/istio-injectors"
  done
  log "Istio's sidecar injector serves revisions ${istio_revisions[*]} ($((SECONDS - start_seconds))s)"
}

# The MESHPROBE_E2E_ISTIO* lines of STATE_DIR/env (e2e/README.md).
istio_environment() {
  printf 'export MESHPROBE_E2E_ISTIO_VERSION=%q\n' "$ISTIO_VERSION"
  printf 'export MESHPROBE_E2E_ISTIOCTL=%q\n' "$istio_bin_dir/istioctl"
  printf 'export MESHPROBE_E2E_ISTIO_CONFIG_DIR=%q\n' "$istio_config_dir"
  printf 'export MESHPROBE_E2E_ISTIO_REVISION=%q\n' "${istio_revisions[1]}"
}
