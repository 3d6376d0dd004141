# Reading the cluster's audit log (e2e/cluster/up --audit; e2e/run always turns it on): which
# requests a client made, when, and what the API server answered. Sourced by tests and
# benchmarks after harness/lib.sh or with MESHPROBE_E2E_STATE_DIR set.
#   id=$(audit_credential_id "$kubeconfig")       # who: the token's credential ID (JWT ID)
#   from=$(audit_time)                            # when: now, as the log writes times
#   audit_requests "$id" "$from" "$(audit_time)"  # one line per request: TIME VERB RESOURCE CODE URI
#   audit_count_writes "$id" "$from" "$to"        # how many create/update/patch/delete
# Only ServiceAccounts of namespace meshprobe-system are logged (up's audit policy). Each token
# (kubectl create token) has its own credential ID, so two replicas with the same
# ServiceAccount are told apart.

audit_log_file() { echo "$MESHPROBE_E2E_STATE_DIR/logs/audit.jsonl"; }

# audit_credential_id KUBECONFIG: the JWT ID of the kubeconfig's token, as the audit log's
# user.extra["authentication.kubernetes.io/credential-id"] carries it ("JTI=...").
audit_credential_id() {
  local token payload
  token=$("$MESHPROBE_E2E_KUBECTL" config view --kubeconfig="$1" --raw -o jsonpath='{.users[0].user.token}')
  payload=$(cut -d. -f2 <<<"$token" | tr '_-' '/+')
  while ((${#payload} % 4)); do payload+="="; done
  echo "JTI=$(base64 -d <<<"$payload" | jq -r .jti)"
}

# audit_time [UNIX_SECONDS]: a time (default now) in the log's format, so that times compare
# as strings.
audit_time() {
  if (($#)); then date -u -d "@$1" +%Y-%m-%dT%H:%M:%S.%6NZ; else date -u +%Y-%m-%dT%H:%M:%S.%6NZ; fi
}

# audit_requests CREDENTIAL_ID FROM TO: the requests of that credential received in [FROM, TO),
# one line each, in the order received: RECEIVED_TIME VERB RESOURCE[/SUBRESOURCE] CODE REQUEST_URI.
# (A watch is logged when its response starts and again when it ends: only the end counts.)
audit_requests() {
  local file
  file=$(audit_log_file)
  [[ -f $file ]] || { echo "no audit log $file (start the cluster with e2e/cluster/up --audit)" >&2; return 1; }
  jq -r --arg id "$1" --arg from "$2" --arg to "$3" '
    select(.stage == "ResponseComplete"
           and (.user.extra["authentication.kubernetes.io/credential-id"] // [])[0] == $id
           and .requestReceivedTimestamp >= $from and .requestReceivedTimestamp < $to)
    | [.requestReceivedTimestamp, .verb,
       ((.objectRef.resource // "-") + (if .objectRef.subresource then "/" + .objectRef.subresource else "" end)),
       (.responseStatus.code // 0 | tostring), .requestURI] | join(" ")' "$file" | sort -s -k1,1
}

# audit_count_writes CREDENTIAL_ID FROM TO [RESOURCE_REGEX]: create, update, patch and delete
# requests in [FROM, TO), optionally only of resources matching RESOURCE_REGEX.
audit_count_writes() {
  audit_requests "$1" "$2" "$3" |
    awk -v pattern="${4:-.}" '$2 ~ /^(create|update|patch|delete|deletecollection)$/ && $3 ~ pattern' | wc -l
}
