#!/usr/bin/env bash
# restart_api_server.sh STATE_DIR: kills the cluster's kube-apiserver (SIGKILL, no graceful
# close of watches), compacts etcd to its current revision so that every resourceVersion a
# client held is gone (its next watch must get 410 and relist), and starts kube-apiserver
# again with the same arguments, recording the new process so that cluster/down stops it.
set -euo pipefail
state_dir=$1
source "$(dirname "$0")/../../cluster/lib.sh"

pid_file="$state_dir/pids/kube-apiserver.pid"
component_running "$pid_file" || die "kube-apiserver of $state_dir is not running"
read -r pid _ <"$pid_file"
mapfile -d '' arguments <"/proc/$pid/cmdline"
etcd=$(printf '%s\n' "${arguments[@]}" | sed -n 's/^--etcd-servers=//p')
[[ -n $etcd ]] || die "no --etcd-servers in kube-apiserver's arguments"

kill -KILL "$pid"
wait_until "kube-apiserver to exit" 30 bash -c "! kill -0 $pid 2>/dev/null"

revision=$(curl -sf -X POST "$etcd/v3/kv/range" -d '{"key":"Lw=="}' | jq -r .header.revision)
curl -sf -X POST "$etcd/v3/kv/compaction" -d "{\"revision\":\"$revision\",\"physical\":true}" >/dev/null
log "compacted etcd at revision $revision"

setsid "${arguments[@]}" </dev/null >>"$state_dir/logs/kube-apiserver.log" 2>&1 9>&- &
new_pid=$!
echo "$new_pid $(process_start_time "$new_pid")" >"$pid_file"
log "restarted kube-apiserver (pid $new_pid)"
