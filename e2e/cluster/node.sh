# The real node of an end-to-end cluster (sourced, not run): `up --node` calls start_node,
# `down` calls clean_node. A node is containerd (runc, CNI plugins: Debian's packages), a
# CNI bridge on its own /24 inside 198.18.0.0/15 (RFC 2544: reserved for tests; no masquerade,
# no default route in the pods, so nothing is routed off the machine), the kubelet and
# kube-scheduler of the pinned Kubernetes version. Everything it writes is under
# STATE_DIR/node/ except what the kernel and the components keep in fixed places, which
# clean_node removes by name: the bridge, the cgroups under the node's own cgroup root, the
# shims' sockets in /run/containerd/s/, the CNI result cache in /var/lib/cni/, the kubelet's
# links in /var/log/containers/ and its device-plugin socket in /var/lib/kubelet/; and the six
# kernel settings the kubelet sets at start, which the last node to stop puts back.

node_name=meshprobe-node
# The kubelet sets these at start (container manager, setupKernelTunables) unless
# protectKernelDefaults, which refuses to start instead. Their values before the first node.
kernel_tunables=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops
  kernel/keys/root_maxkeys kernel/keys/root_maxbytes)
kernel_tunables_file="${TMPDIR:-/tmp}/meshprobe-e2e-kernel-tunables"
node_taint_key=meshprobe.io/e2e-node
pod_range_prefix=198.18.0.0/15
cni_plugin_dir=/usr/lib/cni

# Names unique to one state directory, so several clusters can have a node at once.
node_names_for() {
  local id
  id=$(printf '%s' "$1" | sha256sum | cut -c1-8)
  node_bridge="mpe2e-$id"            # at most 15 characters (IFNAMSIZ)
  node_cgroup_root="meshprobe-e2e-$id"
  node_network="meshprobe-e2e-$id"
  node_dir="$1/node"
  containerd_socket="$node_dir/containerd/containerd.sock"
}

# The mount points of every cgroup hierarchy (v1 controllers, the v2 unified tree).
cgroup_mounts() { findmnt -rn -t cgroup,cgroup2 -o TARGET; }

# A /24 in 198.18.0.0/15 that no address or route on the machine overlaps. Callers hold the
# port lock until the bridge holds the address, so concurrent clusters never pick the same.
pick_pod_subnet() {
  local used tries third second
  used=$({ ip -4 -o addr show; ip -4 route show table all; } | sed 's/^/ /') # every address after a space
  for ((tries = 0; tries < 100; tries++)); do
    second=$((18 + RANDOM % 2)) third=$((RANDOM % 256))
    ((second == 18 && third == 0)) && continue # 198.18.0.0/24: the range most tools pick first
    [[ $used == *" 198.$second.$third."* ]] && continue
    # A wider route (a /16 or the whole /15) would overlap too.
    [[ $used == *"198.$second.0.0/16"* || $used == *"198.18.0.0/15"* ]] && continue
    echo "198.$second.$third"
    return 0
  done
  die "no free /24 in $pod_range_prefix"
}

# start_node BUILD_DIR TAINTED: runs inside up, with its state_dir, pki, kubectl, server,
# bin_dir and helpers (issue_certificate, write_kubeconfig, wait_for_component, admin); takes
# the port lock itself while it picks the subnet and the ports.
start_node() {
  local build_dir=$1 tainted=$2
  node_names_for "$state_dir"
  ((EUID == 0)) || die "the node needs root (network namespaces, cgroups, mounts); run up without --node or as root"
  local tool
  for tool in containerd runc ctr ip findmnt "$cni_plugin_dir/bridge" "$cni_plugin_dir/host-local" "$cni_plugin_dir/loopback"; do
    command -v "$tool" >/dev/null || die "$tool is missing (hack/setup installs it)"
  done
  mkdir -p "$node_dir"/{containerd,cni/net.d,cni/ipam,kubelet,pod-logs}
  # What clean_node must remove, written before any of it exists.
  {
    printf 'bridge=%q\ncgroup_root=%q\nnetwork=%q\n' "$node_bridge" "$node_cgroup_root" "$node_network"
  } >"$node_dir/names"

  log "building the images (target node-images in $build_dir)"
  cmake --build "$build_dir" --target node-images >"$state_dir/logs/node-images.log" 2>&1 ||
    die "building the images failed (see $state_dir/logs/node-images.log)"
  local archives=("$build_dir"/images/*.tar "$build_dir"/e2e/images/*.tar)
  local archive pause_image=""
  for archive in "${archives[@]}"; do
    [[ -f $archive ]] || die "no image archives in $build_dir/images and $build_dir/e2e/images"
    [[ $(basename "$archive") == pause-* ]] &&
      pause_image=$(tar -xOf "$archive" manifest.json | jq -r '.[0].RepoTags[0]')
  done
  [[ -n $pause_image ]] || die "no pause image among ${archives[*]}"

  # --- cgroups: the node's own root in every hierarchy (kubelet cgroupRoot) -----------------
  local mount
  while read -r mount; do
    mkdir -p "$mount/$node_cgroup_root"
    # cgroup v1 cpuset: a new cgroup has no CPUs or memory nodes until given its parent's.
    if [[ -f $mount/cpuset.cpus && -f $mount/$node_cgroup_root/cpuset.cpus ]]; then
      cat "$mount/cpuset.cpus" >"$mount/$node_cgroup_root/cpuset.cpus"
      cat "$mount/cpuset.mems" >"$mount/$node_cgroup_root/cpuset.mems"
    fi
  done < <(cgroup_mounts)

  # --- containerd ------------------------------------------------------------------------------
  # restrict_oom_score_adj: without CAP_SYS_RESOURCE (these machines drop it) runc cannot give
  # a container a lower oom_score_adj than its own, and the kubelet asks -998 for sandboxes.
  # netns_mounts_under_state_dir: the pods' network namespaces live in STATE_DIR, not /run/netns.
  cat >"$node_dir/containerd/config.toml" <<EOF
version = 2
root = "$node_dir/containerd/root"
state = "$node_dir/containerd/state"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$containerd_socket"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  netns_mounts_under_state_dir = true
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$cni_plugin_dir"
    conf_dir = "$node_dir/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      BinaryName = "$(command -v runc)"
      Root = "$node_dir/runc"
      SystemdCgroup = false
EOF
  start_component "$state_dir" containerd "$(command -v containerd)" --config "$node_dir/containerd/config.toml"
  wait_for_component containerd "serves its API" 60 ctr --address "$containerd_socket" version
  "$cluster_dir/../../deploy/import-images" "$containerd_socket" "${archives[@]}" >"$state_dir/logs/images.log" ||
    die "importing the images failed (see $state_dir/logs/images.log)"
  log "imported $(wc -l <"$state_dir/logs/images.log") images ($((SECONDS - start_seconds))s)"

  # Ports and the pod subnet are picked under the machine-wide lock, held until the bridge
  # holds its address and the kubelet and kube-scheduler listen.
  exec 9>"$port_lock_file"
  flock 9
  # --- network: the bridge holds the gateway address; the pods get no default route ---------
  if ip link show "$node_bridge" >/dev/null 2>&1; then
    die "bridge $node_bridge exists: another cluster uses $state_dir's names (e2e/cluster/down it)"
  fi
  local subnet_prefix
  subnet_prefix=$(pick_pod_subnet)
  node_address="$subnet_prefix.1"
  pod_subnet="$subnet_prefix.0/24"
  ip link add "$node_bridge" type bridge
  ip addr add "$node_address/24" dev "$node_bridge"
  ip link set "$node_bridge" up
  cat >"$node_dir/cni/net.d/10-$node_network.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$node_network",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$node_bridge",
      "isGateway": false,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$node_dir/cni/ipam",
        "ranges": [[{"subnet": "$pod_subnet", "rangeStart": "$subnet_prefix.10", "gateway": "$node_address"}]]
      }
    }
  ]
}
EOF

  # --- certificates and kubeconfigs ------------------------------------------------------------
  issue_certificate kubelet "/O=system:nodes/CN=system:node:$node_name" clientAuth
  issue_certificate kubelet-serving "/CN=$node_name" serverAuth "IP:$node_address,DNS:$node_name"
  issue_certificate kube-scheduler "/CN=system:kube-scheduler" clientAuth
  issue_certificate kube-scheduler-serving "/CN=kube-scheduler" serverAuth "$loopback_names"
  write_kubeconfig "$node_dir/kubelet.kubeconfig" kubelet
  write_kubeconfig "$state_dir/kube-scheduler.kubeconfig" kube-scheduler

  # --- kubelet -----------------------------------------------------------------------------------
  local kubelet_port kubelet_healthz_port scheduler_port
  kubelet_port=$(pick_free_port)
  kubelet_healthz_port=$(pick_free_port)
  scheduler_port=$(pick_free_port)
  local taints="[]"
  $tainted && taints="[{key: $node_taint_key, effect: NoSchedule}]"
  # Choices (docs/testing.md "The node: choices and what the machine refused"): cgroupfs under the node's own cgroup root; cgroup v1 accepted;
  # no swap check; eviction only when the machine is nearly out (a shared box must not evict
  # the tests' pods); no image garbage collection (the images cannot be pulled back); no
  # cluster DNS; no read-only port; clients authenticated by the cluster CA or a token review,
  # authorized by the API server; no iptables chains on the host.
  cat >"$node_dir/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $node_address
port: $kubelet_port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $kubelet_healthz_port
tlsCertFile: $pki/kubelet-serving.crt
tlsPrivateKeyFile: $pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://$containerd_socket
cgroupDriver: cgroupfs
cgroupRoot: /$node_cgroup_root
failCgroupV1: false
failSwapOn: false
makeIPTablesUtilChains: false
podLogsDir: $node_dir/pod-logs
clusterDomain: cluster.local
resolvConf: ""
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
shutdownGracePeriod: 0s
registerWithTaints: $taints
EOF
  save_kernel_tunables
  start_component "$state_dir" kubelet "$bin_dir/kubelet" \
    --config="$node_dir/kubelet-config.yaml" --kubeconfig="$node_dir/kubelet.kubeconfig" \
    --root-dir="$node_dir/kubelet" --cert-dir="$node_dir/kubelet/pki" \
    --hostname-override="$node_name" --node-ip="$node_address"
  start_component "$state_dir" kube-scheduler "$bin_dir/kube-scheduler" \
    --kubeconfig="$state_dir/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig="$state_dir/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig="$state_dir/kube-scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$scheduler_port" \
    --tls-cert-file="$pki/kube-scheduler-serving.crt" --tls-private-key-file="$pki/kube-scheduler-serving.key" \
    --leader-elect=false --profiling=false
  wait_for_component kubelet "is healthy" 60 curl -sf "http://127.0.0.1:$kubelet_healthz_port/healthz"
  wait_for_component kube-scheduler "is healthy" 60 \
    curl -sf --cacert "$pki/ca.crt" "https://127.0.0.1:$scheduler_port/healthz"
  exec 9>&-
  wait_for_component kubelet "registered node $node_name, Ready" 120 node_ready
}

# Before the first node's kubelet (none runs): the values the last node's down puts back.
save_kernel_tunables() {
  [[ -f $kernel_tunables_file ]] && return 0
  pgrep -x kubelet >/dev/null && return 0
  local tunable
  for tunable in "${kernel_tunables[@]}"; do
    echo "$tunable $(cat "/proc/sys/$tunable")"
  done >"$kernel_tunables_file"
}

# After the last node's kubelet stopped.
restore_kernel_tunables() {
  [[ -f $kernel_tunables_file ]] || return 0
  pgrep -x kubelet >/dev/null && return 0
  local tunable value
  while read -r tunable value; do
    [[ $(cat "/proc/sys/$tunable") == "$value" ]] || echo "$value" >"/proc/sys/$tunable"
  done <"$kernel_tunables_file"
  rm -f "$kernel_tunables_file"
  log "restored the kernel settings the kubelet changed (${kernel_tunables[*]})"
}

node_ready() {
  [[ $(admin get node "$node_name" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]
}

# The node's lines of STATE_DIR/env (e2e/README.md).
node_environment() {
  printf 'export MESHPROBE_E2E_NODE_NAME=%q\n' "$node_name"
  printf 'export MESHPROBE_E2E_NODE_TAINT=%q\n' "$1"
  printf 'export MESHPROBE_E2E_NODE_ADDRESS=%q\n' "$node_address"
  printf 'export MESHPROBE_E2E_POD_SUBNET=%q\n' "$pod_subnet"
  printf 'export MESHPROBE_E2E_CONTAINERD_ADDRESS=%q\n' "$containerd_socket"
}

# clean_node STATE_DIR: after down stopped the components (kubelet, containerd), removes what
# outlives them: the containers (their processes, found by the node's cgroups), the shims,
# every mount under STATE_DIR/node (root filesystems, /dev/shm, volumes, network namespaces),
# the bridge (its veths went with the namespaces), the cgroups and the files the components
# keep in fixed places. Safe to run twice, and after a run killed at any point.
clean_node() {
  local state_dir=$1
  [[ -f $state_dir/node/names ]] || return 0
  local bridge cgroup_root network
  # shellcheck disable=SC1091
  source "$state_dir/node/names"
  node_names_for "$state_dir"

  # Containers first (while their shims still reap them), then the shims.
  local deadline=$((SECONDS + 15)) pids
  while pids=$(node_cgroup_processes "$cgroup_root") && [[ -n $pids ]]; do
    ((SECONDS < deadline)) || { log "processes still in cgroup $cgroup_root: $pids"; break; }
    kill -KILL $pids 2>/dev/null || true
    sleep 0.1
  done
  local shim_sockets=() address_file
  for address_file in "$node_dir"/containerd/state/io.containerd.runtime.v2.task/*/*/address; do
    [[ -f $address_file ]] && shim_sockets+=("$(sed 's|^unix://||' "$address_file")")
  done
  pids=$(node_shim_processes "$containerd_socket")
  if [[ -n $pids ]]; then
    kill -KILL $pids 2>/dev/null || true
    log "stopped the containerd shims ($(wc -w <<<"$pids"))"
  fi
  local socket
  for socket in "${shim_sockets[@]}"; do
    [[ $socket == /run/containerd/s/* ]] && rm -f "$socket"
  done
  rmdir /run/containerd/s /run/containerd 2>/dev/null || true

  # Mounts under the node's directory, deepest first.
  local mount_point tries
  local -a mounts
  for ((tries = 0; tries < 3; tries++)); do
    mapfile -t mounts < <(node_mounts "$node_dir" | sort -r)
    ((${#mounts[@]})) || break
    for mount_point in "${mounts[@]}"; do umount "$mount_point" 2>/dev/null || true; done
  done
  mapfile -t mounts < <(node_mounts "$node_dir")
  if ((${#mounts[@]})); then
    for mount_point in "${mounts[@]}"; do umount --lazy "$mount_point" || true; done
    log "detached busy mounts: ${mounts[*]}"
  fi

  ip link delete "$bridge" type bridge 2>/dev/null && log "deleted bridge $bridge"
  local mount
  while read -r mount; do
    [[ -d $mount/$cgroup_root ]] || continue
    find "$mount/$cgroup_root" -depth -type d -exec rmdir {} + 2>/dev/null ||
      log "cgroup $mount/$cgroup_root is still in use"
  done < <(cgroup_mounts)

  # Files the components keep in fixed places.
  # libcni's cache of each attachment: NETWORK-SANDBOX-eth0, and cni-loopback-SANDBOX-lo for
  # the loopback that containerd adds itself.
  rm -f /var/lib/cni/results/"$network"-*
  local sandbox
  for sandbox in "$node_dir"/containerd/{root,state}/io.containerd.grpc.v1.cri/sandboxes/*; do
    [[ -d $sandbox ]] && rm -f "/var/lib/cni/results/cni-loopback-$(basename "$sandbox")-lo"
  done
  rmdir /var/lib/cni/results /var/lib/cni 2>/dev/null || true
  local link
  for link in /var/log/containers/*.log; do
    [[ -L $link && $(readlink "$link") == "$node_dir/"* ]] && rm -f "$link"
  done
  rmdir /var/log/containers 2>/dev/null || true
  # The kubelet's device-plugin socket has a fixed path (pluginapi.KubeletSocket): removed
  # only when no other kubelet listens on it.
  local device_plugin_socket=/var/lib/kubelet/device-plugins/kubelet.sock
  if [[ -S $device_plugin_socket && -z $(ss -Hxl "src $device_plugin_socket") ]]; then
    rm -f "$device_plugin_socket" /var/lib/kubelet/device-plugins/kubelet_internal_checkpoint
    rmdir /var/lib/kubelet/device-plugins /var/lib/kubelet 2>/dev/null || true
  fi
  restore_kernel_tunables
  rm -f "$node_dir/names"
}

# PIDs of every process in the cgroup tree ROOT of any hierarchy.
node_cgroup_processes() {
  local mount
  while read -r mount; do
    [[ -d $mount/$1 ]] && find "$mount/$1" -name cgroup.procs -exec cat {} + 2>/dev/null
  done < <(cgroup_mounts) | sort -un | tr '\n' ' ' | sed 's/ $//'
}

# PIDs of the containerd shims started for SOCKET (their command line: -address SOCKET).
node_shim_processes() {
  local process arguments
  for process in /proc/[0-9]*; do
    mapfile -d '' -t arguments <"$process/cmdline" 2>/dev/null || continue
    [[ ${arguments[0]:-} == *containerd-shim* ]] || continue
    [[ " ${arguments[*]} " == *" -address $1 "* ]] && echo "${process#/proc/}"
  done | tr '\n' ' ' | sed 's/ $//'
}

# Mount points at or below DIR (mountinfo's field 5; octal escapes such as \040 kept).
node_mounts() {
  awk -v dir="$1" '$5 == dir || index($5, dir "/") == 1 { print $5 }' /proc/self/mountinfo
}
