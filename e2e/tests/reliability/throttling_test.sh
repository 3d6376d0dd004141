#!/usr/bin/env bash
# Real 429s: API Priority and Fairness puts the controller's ServiceAccount in a priority level
# of its own with the least concurrency there is (nominal share 1, nothing lent or borrowed)
# and no queue (Reject), so kube-apiserver answers what does not fit at once with
# 429 Too Many Requests and a Retry-After (1 to 32 s, growing while it keeps rejecting). The
# controller runs 8 workers with a client-side limit high enough not to hide that. It must
# converge, and honour every Retry-After: the audit log must show no request sent again
# sooner than 1 s (the least Retry-After) after a 429 to the same request. (Creates are not
# matched: they name their object in the body, which the audit log of a rejected request
# does not have; they go through the same client.)
source "$(dirname "$0")/../../harness/lib.sh"
source "$(dirname "$0")/../../harness/audit.sh"
source "$(dirname "$0")/lib.sh"
reliability_setup
count=80
reliability_cleanup() {
  e2e_kubectl delete flowschema "$E2E_NAMESPACE" --ignore-not-found >/dev/null
  e2e_kubectl delete prioritylevelconfiguration "$E2E_NAMESPACE" --ignore-not-found >/dev/null
}
e2e_kubectl apply -f - >/dev/null <<YAML
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: PriorityLevelConfiguration
metadata: {name: $E2E_NAMESPACE}
spec:
  type: Limited
  limited:
    nominalConcurrencyShares: 1
    lendablePercent: 0
    borrowingLimitPercent: 0
    limitResponse: {type: Reject}
---
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: FlowSchema
metadata: {name: $E2E_NAMESPACE}
spec:
  priorityLevelConfiguration: {name: $E2E_NAMESPACE}
  matchingPrecedence: 500
  distinguisherMethod: {type: ByUser}
  rules:
  - subjects:
    - kind: ServiceAccount
      serviceAccount: {name: meshprobe-controller, namespace: meshprobe-system}
    resourceRules:
    - {verbs: ["*"], apiGroups: ["*"], resources: ["*"], clusterScope: true, namespaces: ["*"]}
    nonResourceRules:
    - {verbs: ["*"], nonResourceURLs: ["*"]}
YAML
# The API server picks up a new FlowSchema within seconds.
in_effect() {
  e2e_kubectl get flowschema "$E2E_NAMESPACE" -o jsonpath='{.status.conditions[?(@.type=="Dangling")].status}' |
    grep -qx False
}
e2e_eventually "the FlowSchema to take effect" 30 in_effect
sleep 2

config="$MESHPROBE_E2E_STATE_DIR/$E2E_NAMESPACE.controller.yaml"
controller_config "$config" "workers: 8" "apiQPS: 500" "apiBurst: 500" "leaderElection: {enabled: false}"
create_deployments 0 "$count"
from=$(audit_time)
start_controller only "$config"
e2e_eventually "the throttled controller to converge $count Deployments" 240 all_converged "$count"
sleep 2
to=$(audit_time)
rolled_out_once || e2e_fail "$(rolled_out_once)"

requests=$(audit_requests "${controller_id[only]}" "$from" "$to")
rejected=$(awk '$4 == 429' <<<"$requests" | wc -l)
echo "$(wc -l <<<"$requests") requests, $rejected answered 429"
awk '{print $2, $3, $4}' <<<"$requests" | sort | uniq -c
((rejected > 0)) || e2e_fail "API Priority and Fairness rejected none of the controller's requests: nothing was tested"
# For each request answered 429, the same verb and URI again: how long after.
too_soon=$(awk '$2 != "create"' <<<"$requests" | awk '
  function seconds(time,   parts) {  # 2026-11-24T11:02:47.123456Z -> seconds of the day
    split(substr(time, 12, 15), parts, ":")
    return parts[1] * 3600 + parts[2] * 60 + parts[3]
  }
  { key = $2 " " $5
    if (key in rejected_at) {
      gap = seconds($1) - rejected_at[key]
      if (gap < 1) printf "%s %s %s again %.3f s after a 429\n", $1, $2, $5, gap
      else printf "%s %s %s again %.3f s after a 429\n", $1, $2, $5, gap > "/dev/stderr"
      delete rejected_at[key]
    }
    if ($4 == 429) rejected_at[key] = seconds($1)
  }')
[[ -z $too_soon ]] || e2e_fail "requests sent again before the Retry-After: $too_soon"
