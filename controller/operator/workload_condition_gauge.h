// WorkloadConditionGauge: the metric meshprobe_workloads{kind, reason}, how many workloads have
// each reason in their HealthProbesRewritten condition, as this process last reconciled them
// (docs/monitoring.md; the alerts on ConflictingWriter and InvalidProbe read it). The reconciler
// records each workload's reason whenever it decides it and forgets deleted ones; a reason whose
// count falls to zero stays at 0, so an alert sees it clear. Only the leader reconciles, so
// only the leader's gauge counts anything. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "kube/metrics.h"

namespace meshprobe::controller {

class WorkloadConditionGauge {
 public:
  explicit WorkloadConditionGauge(kube::MetricsRegistry& metrics);

  // The workload `key` ("namespace/name") of `kind` ("Deployment") has condition reason `reason`.
  void record(const std::string& kind, const std::string& key, const std::string& reason);
  // The workload is gone (or no longer meshprobe's concern): it counts no more.
  void forget(const std::string& kind, const std::string& key);

 private:
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::string> reasons_;  // (kind, key) -> reason
  kube::GaugeFamily& workloads_;
};

}  // namespace meshprobe::controller
