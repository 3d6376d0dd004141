#!/usr/bin/env bash
# The seed's two problems, for real, on the node: under the mesh stand-in (every inbound TCP
# connection redirected to a proxy that requires mutual TLS) and PeerAuthentication STRICT,
# without meshprobe,
#   - the kubelet's HTTP and gRPC liveness probes fail and the kubelet restarts the application;
#   - the TCP readiness probe of an application that stopped listening still passes.
# First it checks that the stand-in is a real mutual-TLS gate: plaintext is refused, a client
# with the mesh's certificate reaches the application, the excluded control port is direct.
source "$(dirname "$0")/../../harness/lib.sh"
source "$(dirname "$0")/lib.sh"
node_setup

node_manifest strict-mtls.yaml | e2e_apply >/dev/null
node_manifest seed-app.yaml | e2e_apply >/dev/null

e2e_eventually "Deployment readiness-tcp Ready" 120 node_deployment_ready readiness-tcp
pod=$(node_pod readiness-tcp)
ip=$(node_pod_ip "$pod")
[[ $(curl -sf --max-time 5 "http://$ip:9090/health") == *'"tcp":"passing"'* ]] ||
  e2e_fail "the control port 9090 (excluded from the redirect) does not answer on $ip"
if output=$(curl -sS --max-time 5 "http://$ip:8080/healthz" 2>&1); then
  e2e_fail "plaintext HTTP to $ip:8080 passed the mesh stand-in: $output"
fi
answer=$(curl -sS --max-time 5 --resolve "mesh-tls:8080:$ip" --cacert "$node_pki/ca.crt" \
  --cert "$node_pki/client.crt" --key "$node_pki/client.key" https://mesh-tls:8080/healthz) ||
  e2e_fail "mutual TLS with the mesh's client certificate did not reach the application"
[[ $answer == ok ]] || e2e_fail "the application answered '$answer' through mutual TLS"
if curl -sS --max-time 5 --resolve "mesh-tls:8080:$ip" --cacert "$node_pki/ca.crt" \
  https://mesh-tls:8080/healthz >/dev/null 2>&1; then
  e2e_fail "TLS without a client certificate passed the mesh stand-in"
fi

# TCP: the application stops listening, the kubelet's TCP probe reaches the proxy instead.
node_set_health "$pod" tcp failing
[[ $(curl -sf --max-time 5 "http://$ip:9090/health") == *'"tcp":"failing"'* ]] ||
  e2e_fail "the application did not stop listening on its TCP port"
for ((second = 0; second < 10; second++)); do
  node_pod_ready "$pod" True || e2e_fail "$pod became unready: the TCP probe saw the stopped application"
  sleep 1
done

# HTTP and gRPC: plaintext probes fail at the proxy, the kubelet restarts healthy applications.
for deployment in liveness-http liveness-grpc; do
  e2e_eventually "a pod of $deployment" 60 node_pod "$deployment"
  pod=$(node_pod "$deployment")
  e2e_eventually "the kubelet to restart $pod's app (liveness probe failing)" 90 node_restarted "$pod" app
  events=$(e2e_kubectl get events --namespace "$E2E_NAMESPACE" --field-selector "involvedObject.name=$pod" \
    -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}')
  [[ $events == *"Unhealthy: Liveness probe failed"* ]] ||
    e2e_fail "no 'Liveness probe failed' event for $pod; events: $events"
  node_show "$pod"
done
proxy_log=$(e2e_kubectl logs "$pod" --namespace "$E2E_NAMESPACE" -c istio-proxy)
[[ $proxy_log == *"rejected "*"TLS handshake failed"* ]] ||
  e2e_fail "the stand-in's proxy did not log the kubelet's rejected probes: $proxy_log"
