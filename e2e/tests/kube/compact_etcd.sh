#!/usr/bin/env bash
# compact_etcd.sh STATE_DIR: compacts the cluster's etcd to its current revision, so every
# older resourceVersion (a watch's, a list's continue token) is gone: the next use gets 410.
# etcd's address comes from the running kube-apiserver's --etcd-servers.
set -euo pipefail
state_dir=$1
source "$(dirname "$0")/../../cluster/lib.sh"

# The etcd endpoint from the running kube-apiserver's arguments.
etcd_endpoint() {
  local pid_file="$state_dir/pids/kube-apiserver.pid" pid
  component_running "$pid_file" || die "kube-apiserver of $state_dir is not running"
  read -r pid _ <"$pid_file"
  tr '\0' '\n' <"/proc/$pid/cmdline" | sed -n 's/^--etcd-servers=//p'
}

compact_etcd() {
  local etcd=$1 revision
  revision=$(curl -sf -X POST "$etcd/v3/kv/range" -d '{"key":"Lw=="}' | jq -r .header.revision)
  curl -sf -X POST "$etcd/v3/kv/compaction" -d "{\"revision\":\"$revision\",\"physical\":true}" >/dev/null
  log "compacted etcd at revision $revision"
}

# Run, not sourced: compact now.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  endpoint=$(etcd_endpoint)
  [[ -n $endpoint ]] || die "no --etcd-servers in kube-apiserver's arguments"
  compact_etcd "$endpoint"
fi
