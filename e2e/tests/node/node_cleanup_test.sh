#!/usr/bin/env bash
# `down` removes everything a node made, and the next node on the machine starts clean: a
# second cluster with a node (beside the one the other tests use) runs a pod with the mesh
# stand-in (network namespace, nftables, overlay root filesystems, tmpfs volumes, /dev/shm),
# is stopped, leaves nothing behind, and starts again in the same directory. The second time
# the kubelet and containerd are first killed with SIGKILL, as in a run that crashed: down must
# still find and remove the containers, shims, mounts and bridge they leave.
source "$(dirname "$0")/../../harness/lib.sh"
source "$(dirname "$0")/lib.sh"
[[ -f ${MESHPROBE_E2E_BUILD_DIR:-}/CMakeCache.txt ]] ||
  e2e_fail "MESHPROBE_E2E_BUILD_DIR (the build whose images the node runs) is not set (CTest sets it)"
cluster_dir="$node_tests_dir/../../cluster"
state_dir=$(mktemp -d "${TMPDIR:-/tmp}/meshprobe-e2e-cleanup.XXXXXX")
rmdir "$state_dir" # up makes it; the name is what the node's names derive from
trap '[[ -d $state_dir ]] && "$cluster_dir/down" "$state_dir" >/dev/null 2>&1' EXIT

second() { "$MESHPROBE_E2E_KUBECTL" --kubeconfig="$state_dir/kubeconfig" "$@"; }

# Everything the node made that outlives its processes, one line each (empty when clean).
leftovers() {
  local bridge=$1 cgroup_root=$2 network=$3 socket=$4 mount process
  ip link show "$bridge" >/dev/null 2>&1 && echo "bridge $bridge"
  ip -4 -o addr show | grep -F " $bridge " && echo "address on $bridge"
  while read -r mount; do [[ -e $mount/$cgroup_root ]] && echo "cgroup $mount/$cgroup_root"; done \
    < <(findmnt -rn -t cgroup,cgroup2 -o TARGET)
  awk -v dir="$state_dir" 'index($5, dir) == 1 { print "mount " $5 }' /proc/self/mountinfo
  for process in /proc/[0-9]*; do
    { tr '\0' ' ' <"$process/cmdline"; } 2>/dev/null | grep -qF -- "$socket" && echo "process ${process#/proc/}"
  done
  compgen -G "/var/lib/cni/results/$network-*" | sed 's/^/CNI cache /'
  for link in /var/log/containers/*.log; do
    [[ -L $link && $(readlink "$link") == "$state_dir/"* ]] && echo "log link $link"
  done
  [[ -e $state_dir ]] && echo "directory $state_dir"
  true
}

run_node_once() {
  local round=$1 kill_first=$2 start=$SECONDS
  "$cluster_dir/up" --node "$MESHPROBE_E2E_BUILD_DIR" "$state_dir" >"$MESHPROBE_E2E_STATE_DIR/cleanup-up-$round.log" 2>&1 ||
    e2e_fail "round $round: up --node failed: $(tail -20 "$MESHPROBE_E2E_STATE_DIR/cleanup-up-$round.log")"
  echo "round $round: cluster and node up in $((SECONDS - start))s"
  local bridge cgroup_root network
  source "$state_dir/node/names"
  local socket="$state_dir/node/containerd/containerd.sock"
  second apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: sleeper, namespace: default}
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: mesh-init
    image: $(node_image MESH_SIDECAR)
    imagePullPolicy: Never
    args: [redirect]
    securityContext: {runAsUser: 0, capabilities: {drop: [ALL], add: [NET_ADMIN]}}
  containers:
  - name: sleeper
    image: $(node_image BUSYBOX)
    imagePullPolicy: Never
    args: [sleep, "3600"]
    volumeMounts: [{name: scratch, mountPath: /scratch}]
  volumes: [{name: scratch, emptyDir: {medium: Memory}}]
YAML
  e2e_eventually "round $round: pod sleeper Running" 90 \
    bash -c "[[ \$('$MESHPROBE_E2E_KUBECTL' --kubeconfig='$state_dir/kubeconfig' get pod sleeper -o jsonpath='{.status.phase}') == Running ]]"
  local made
  made=$(leftovers "$bridge" "$cgroup_root" "$network" "$socket")
  for kind in bridge cgroup mount process "CNI cache"; do
    grep -q "^$kind " <<<"$made" || e2e_fail "round $round: the running node has no $kind to clean up; found: $made"
  done
  if $kill_first; then
    local component pid
    for component in kubelet containerd; do
      read -r pid _ <"$state_dir/pids/$component.pid"
      kill -KILL "$pid"
    done
  fi
  start=$SECONDS
  "$cluster_dir/down" "$state_dir" >"$MESHPROBE_E2E_STATE_DIR/cleanup-down-$round.log" 2>&1 ||
    e2e_fail "round $round: down failed: $(cat "$MESHPROBE_E2E_STATE_DIR/cleanup-down-$round.log")"
  echo "round $round: down in $((SECONDS - start))s$($kill_first && echo " (kubelet and containerd killed first)")"
  made=$(leftovers "$bridge" "$cgroup_root" "$network" "$socket")
  [[ -z $made ]] || e2e_fail "round $round: down left behind: $made"
}

run_node_once 1 false
run_node_once 2 true
echo "PASS"
