# Shared by build, up and down (sourced, not run). Paths, free ports, and the processes a
# cluster runs: each component is started by start_component, which records its PID and
# start time under STATE_DIR/pids/ and appends its name to STATE_DIR/components; down stops
# them in reverse order and only if the PID still names the process that was started.
# Adding a component later (the node: containerd, kubelet, kube-scheduler) means calling
# start_component from up, nothing in down.

cluster_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$cluster_dir/versions.env"
cache_root=${MESHPROBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshprobe}
bin_dir="$cache_root/k8s-v$KUBERNETES_VERSION-etcd-v$ETCD_VERSION/bin"
istio_crds_file="$cache_root/istio-api-v$ISTIO_API_VERSION/customresourcedefinitions.gen.yaml"
# Istio's parts (build --istio): istioctl and the sidecar injector in bin/, and the
# configuration `istioctl manifest generate` rendered for each revision in config/REVISION/.
istio_dir="$cache_root/istio-$ISTIO_VERSION"
istio_bin_dir="$istio_dir/bin"
istio_config_dir="$istio_dir/config"
# The revisions whose injectors up --istio runs: Istio's default one and one more.
istio_revisions=(default canary)
argo_rollouts_crd_file="$cache_root/argo-rollouts-v$ARGO_ROLLOUTS_VERSION/rollout-crd.yaml"
# Everything a cluster may run; build makes all of them (kubelet and kube-scheduler for the node).
kubernetes_components=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)

# How Istio's configuration is rendered, one line per revision: the cache holds what these
# commands printed, and renders again when they change.
istio_render_commands() {
  local revision
  for revision in "${istio_revisions[@]}"; do
    if [[ $revision == default ]]; then
      echo "$revision: istioctl manifest generate --set profile=default"
    else
      echo "$revision: istioctl manifest generate --set profile=default --set revision=$revision"
    fi
  done
}

istio_rendered() {
  cmp -s "$istio_config_dir/RENDER_INFO" <(istio_render_commands) && [[ -d $istio_config_dir/samples/health-check ]]
}

istio_present() { [[ -x $istio_bin_dir/istioctl && -x $istio_bin_dir/sidecar-injector ]] && istio_rendered; }

log() { echo "[${0##*/}] $*" >&2; }
die() { log "error: $*"; exit 1; }
# Prints the calling script's header comment (its manual) and exits 2.
usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

# Ports are picked below the kernel's ephemeral range (so outgoing connections never take
# them) and checked against every socket on the machine. Callers hold the port lock (fd 9)
# from the first pick until the components listen, so concurrent runs never pick the same port.
port_lock_file="${TMPDIR:-/tmp}/meshprobe-e2e-ports.lock"
picked_ports=()
pick_free_port() {
  local port tries ephemeral_start _
  read -r ephemeral_start _ </proc/sys/net/ipv4/ip_local_port_range
  local low=20000 high=$((ephemeral_start < 32000 ? ephemeral_start : 32000))
  ((high - low >= 1000)) || die "the ephemeral port range starts at $ephemeral_start: no room below it"
  for ((tries = 0; tries < 200; tries++)); do
    port=$((low + RANDOM % (high - low)))
    [[ " ${picked_ports[*]} " == *" $port "* ]] && continue
    if [[ -z $(ss -Htan "( sport = :$port )") ]]; then
      picked_ports+=("$port")
      echo "$port"
      return 0
    fi
  done
  die "no free port found between $low and $high"
}

# start_component STATE_DIR NAME BINARY ARGS...: runs BINARY in its own session with stdin
# closed and output in STATE_DIR/logs/NAME.log; records "PID STARTTIME" in pids/NAME.pid.
start_component() {
  local state_dir=$1 name=$2 binary=$3
  shift 3
  mkdir -p "$state_dir/logs" "$state_dir/pids"
  # 9>&- : the component must not inherit the port lock, or it holds it forever.
  setsid "$binary" "$@" </dev/null >"$state_dir/logs/$name.log" 2>&1 9>&- &
  local pid=$!
  echo "$pid $(process_start_time "$pid")" >"$state_dir/pids/$name.pid"
  echo "$name" >>"$state_dir/components"
  log "started $name (pid $pid, log $state_dir/logs/$name.log)"
}

# The kernel's start time of PID (clock ticks since boot): with the PID it names one process,
# even after the PID is reused.
process_start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  # Field 22; the command name (field 2) may hold spaces, so count after its ')'.
  awk '{print $20}' <<<"${stat##*) }"
}

# True while the component recorded in PID_FILE is still the process that was started. An
# exited process that its parent has not reaped yet (a zombie, state Z) is not running: the
# components' parent is PID 1, which may reap late.
component_running() {
  local pid_file=$1 pid start_time stat
  read -r pid start_time <"$pid_file" || return 1
  [[ -n $pid && -n $start_time && $(process_start_time "$pid") == "$start_time" ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ ${stat##*) } != Z* ]]
}

# print_log_tails STATE_DIR [LINES]: the end of every component log, for a failure report.
print_log_tails() {
  local state_dir=$1 lines=${2:-40} file
  for file in "$state_dir"/logs/*.log; do
    [[ -s $file ]] || continue
    echo "----- last $lines lines of $file" >&2
    tail -n "$lines" "$file" >&2
  done
}

# stop_component STATE_DIR NAME [GRACE_SECONDS]: stops the component (SIGTERM, then SIGKILL
# after GRACE_SECONDS, default 15) if it is still the process that was started, and keeps its
# command line in pids/NAME.cmdline so that restart_component can start it again.
stop_component() {
  local state_dir=$1 name=$2 grace=${3:-15} pid_file="$1/pids/$2.pid" pid deadline
  [[ -f $pid_file ]] || return 0
  if component_running "$pid_file"; then
    read -r pid _ <"$pid_file"
    cp "/proc/$pid/cmdline" "$state_dir/pids/$name.cmdline" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + grace))
    while component_running "$pid_file" && ((SECONDS < deadline)); do sleep 0.1; done
    if component_running "$pid_file"; then
      log "$name (pid $pid) did not stop after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      while component_running "$pid_file"; do sleep 0.1; done
    fi
    log "stopped $name (pid $pid)"
  fi
  rm -f "$pid_file"
}

# restart_component STATE_DIR NAME: starts a component that stop_component stopped again, with
# the same command line, its output appended to its log; down stops it as before.
restart_component() {
  local state_dir=$1 name=$2 arguments
  [[ -f $state_dir/pids/$name.cmdline ]] || die "$name of $state_dir was not stopped by stop_component"
  [[ -f $state_dir/pids/$name.pid ]] && component_running "$state_dir/pids/$name.pid" &&
    die "$name of $state_dir is running"
  mapfile -d '' arguments <"$state_dir/pids/$name.cmdline"
  setsid "${arguments[@]}" </dev/null >>"$state_dir/logs/$name.log" 2>&1 9>&- &
  local pid=$!
  echo "$pid $(process_start_time "$pid")" >"$state_dir/pids/$name.pid"
  log "started $name again (pid $pid)"
}
