#include "operator/workload_condition_gauge.h"

#include "kube/long_lived_allocations.h"

namespace meshprobe::controller {

WorkloadConditionGauge::WorkloadConditionGauge(kube::MetricsRegistry& metrics)
    : workloads_(metrics.gauge(
          "meshprobe_workloads",
          "Workloads by the reason of their HealthProbesRewritten condition, as this process "
          "last reconciled them (only the leader reconciles).",
          {"kind", "reason"})) {}

void WorkloadConditionGauge::record(const std::string& kind, const std::string& key,
                                    const std::string& reason) {
  std::lock_guard lock(mutex_);
  kube::LongLivedAllocations long_lived;  // the entry lasts as long as the workload
  auto [entry, inserted] = reasons_.try_emplace({kind, key}, reason);
  if (!inserted) {
    if (entry->second == reason) return;
    workloads_.labels({kind, entry->second}).add(-1);
    entry->second = reason;
  }
  workloads_.labels({kind, reason}).add(1);
}

void WorkloadConditionGauge::forget(const std::string& kind, const std::string& key) {
  std::lock_guard lock(mutex_);
  auto entry = reasons_.find({kind, key});
  if (entry == reasons_.end()) return;
  workloads_.labels({kind, entry->second}).add(-1);
  reasons_.erase(entry);
}

}  // namespace meshprobe::controller
