#!/usr/bin/env bash
# restart_api_server.sh STATE_DIR: kills the cluster's kube-apiserver (SIGKILL: watches are
# cut, not closed) and starts it again with the same arguments, recording the new process so
# that cluster/down stops it. Returns once it is started; the caller waits for /readyz.
set -euo pipefail
state_dir=$1
source "$(dirname "$0")/../../cluster/lib.sh"

pid_file="$state_dir/pids/kube-apiserver.pid"
component_running "$pid_file" || die "kube-apiserver of $state_dir is not running"
read -r pid _ <"$pid_file"
mapfile -d '' arguments <"/proc/$pid/cmdline"

kill -KILL "$pid"
for ((tries = 0; tries < 300; tries++)); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$pid" 2>/dev/null && die "kube-apiserver (pid $pid) did not exit after SIGKILL"

setsid "${arguments[@]}" </dev/null >>"$state_dir/logs/kube-apiserver.log" 2>&1 9>&- &
new_pid=$!
echo "$new_pid $(process_start_time "$new_pid")" >"$pid_file"
log "restarted kube-apiserver (pid $new_pid)"
