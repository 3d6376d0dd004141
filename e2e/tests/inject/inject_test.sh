#!/usr/bin/env bash
# `meshprobe inject` against the real API server:
#   - its output is accepted by `kubectl apply`, as the seed applies istioctl kube-inject's,
#     for every kind that holds a pod template;
#   - a rewritten template read back from the API server (defaults filled in) is a fixed
#     point: inject changes nothing, so the controller will not write it again;
#   - --restore of what the API server holds gives back exactly the template it held before
#     the rewrite.
source "$(dirname "$0")/../../harness/lib.sh"
[[ -x ${MESHPROBE_BINARY:-} ]] || e2e_fail "MESHPROBE_BINARY (the built meshprobe binary) is not set"
e2e_setup
work="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE"  # removed with the cluster
mkdir -p "$work"
k() { e2e_kubectl --namespace "$E2E_NAMESPACE" "$@"; }

pod_spec() {  # INDENT: a pod spec with an HTTP, a TCP and a gRPC probe and a preStop hook
  sed "s/^/$(printf '%*s' "$1" '')/" <<'YAML'
spec:
  containers:
  - name: web
    image: docker.io/istio/health:example
    ports:
    - name: http
      containerPort: 8001
    livenessProbe:
      httpGet: {path: /foo, port: http}
      initialDelaySeconds: 5
      periodSeconds: 5
    readinessProbe:
      tcpSocket: {port: 8001}
    startupProbe:
      grpc: {port: 9090}
      failureThreshold: 30
    lifecycle:
      preStop:
        httpGet: {path: /drain, port: 8001}
YAML
}

workloads() {  # the kinds whose pod template can change in place, and a Service
  for kind in Deployment StatefulSet DaemonSet ReplicaSet; do
    cat <<YAML
apiVersion: apps/v1
kind: $kind
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, version: "1.10"}}
$(pod_spec 4)
---
YAML
  done
  cat <<YAML
apiVersion: batch/v1
kind: CronJob
metadata: {name: web}
spec:
  schedule: "0 0 * * *"
  jobTemplate:
    spec:
      template:
$(pod_spec 8)
          restartPolicy: Never
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: "http"}]
YAML
}
workloads >"$work/workloads.yaml"
cat >"$work/immutable.yaml" <<YAML
apiVersion: batch/v1
kind: Job
metadata: {name: web}
spec:
  template:
    # With metadata: the Job controller labels the template, which would turn a template
    # without metadata into one with (docs/decisions.md "The engine": one more write in that case).
    metadata: {labels: {app: web}}
$(pod_spec 4)
      restartPolicy: Never
---
apiVersion: v1
kind: Pod
metadata: {name: web}
$(pod_spec 0)
YAML

template_of() {  # KIND: the pod template the API server holds
  case $1 in
    Pod) k get pod web -o json | jq -S '{metadata: {annotations: .metadata.annotations}, spec: .spec}' ;;
    CronJob) k get cronjob web -o json | jq -S .spec.jobTemplate.spec.template ;;
    *) k get "$1" web -o json | jq -S .spec.template ;;
  esac
}
kinds=(Deployment StatefulSet DaemonSet ReplicaSet CronJob)

inject() {  # FILE [OPTIONS]: meshprobe inject, which must not warn
  "$MESHPROBE_BINARY" inject -f "$@" 2>"$work/stderr" || e2e_fail "inject -f $* failed: $(cat "$work/stderr")"
  [[ ! -s $work/stderr ]] || e2e_fail "inject -f $* warned: $(cat "$work/stderr")"
}

# 1. The originals, as the API server holds them. (The pod templates of Jobs and Pods cannot
#    change: they are created rewritten and checked in 2 and 3 only.)
inject "$work/workloads.yaml" --restore | diff - "$work/workloads.yaml" >&2 ||
  e2e_fail "--restore changed manifests that were never rewritten"
k apply -f "$work/workloads.yaml" >/dev/null
for kind in "${kinds[@]}"; do template_of "$kind" >"$work/before.$kind.json"; done

# 2. Rewritten, applied as the seed applies kube-inject's output.
k apply -f <(inject "$work/workloads.yaml") >/dev/null || e2e_fail "kubectl apply refused the rewritten workloads"
k apply -f <(inject "$work/immutable.yaml") >/dev/null || e2e_fail "kubectl apply refused the rewritten Job and Pod"
for kind in "${kinds[@]}" Job Pod; do
  template_of "$kind" >"$work/after.$kind.json"
  jq -e '.spec.initContainers[0].name == "meshprobe-agent"
         and .spec.initContainers[0].restartPolicy == "Always"
         and .spec.containers[0].livenessProbe.httpGet == {path: "/app-health/web/livez", port: 15120, scheme: "HTTP"}
         and .spec.containers[0].readinessProbe.httpGet.path == "/app-health/web/readyz"
         and .spec.containers[0].startupProbe.httpGet.path == "/app-health/web/startupz"
         and .spec.containers[0].lifecycle.preStop.httpGet.path == "/app-lifecycle/web/prestopz"
         and .metadata.annotations["traffic.sidecar.istio.io/excludeInboundPorts"] == "15120"' \
    "$work/after.$kind.json" >/dev/null || e2e_fail "$kind was not stored rewritten: $(cat "$work/after.$kind.json")"
done

# 3. What the API server holds is a fixed point: injecting it again changes nothing.
for kind in "${kinds[@]}" Job Pod; do
  k get "$kind" web -o yaml >"$work/stored.$kind.yaml"
  inject "$work/stored.$kind.yaml" >"$work/again.$kind.yaml"
  diff -u "$work/stored.$kind.yaml" "$work/again.$kind.yaml" >&2 ||
    e2e_fail "inject changed the $kind the API server holds (diff above)"
done

# 4. --restore of what the API server holds gives back exactly what it held before.
for kind in "${kinds[@]}"; do
  inject "$work/stored.$kind.yaml" --restore | k replace -f - >/dev/null ||
    e2e_fail "kubectl replace refused the restored $kind"
  template_of "$kind" >"$work/restored.$kind.json"
  diff -u "$work/before.$kind.json" "$work/restored.$kind.json" >&2 ||
    e2e_fail "the restored $kind differs from the original (diff above)"
done
