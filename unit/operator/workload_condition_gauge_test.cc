#include "operator/workload_condition_gauge.h"

#include <gtest/gtest.h>

#include "kube/metrics.h"

namespace meshprobe::controller {
namespace {

double workloads(kube::MetricsRegistry& metrics, const std::string& kind,
                 const std::string& reason) {
  return metrics.gauge("meshprobe_workloads", "", {"kind", "reason"})
      .labels({kind, reason})
      .value();
}

TEST(WorkloadConditionGauge, CountsEachWorkloadOnceUnderItsLatestReason) {
  kube::MetricsRegistry metrics;
  WorkloadConditionGauge gauge(metrics);
  gauge.record("Deployment", "shop/web", "Rewritten");
  gauge.record("Deployment", "shop/api", "Rewritten");
  gauge.record("Deployment", "shop/web", "Rewritten");  // reconciled again, same reason
  EXPECT_EQ(workloads(metrics, "Deployment", "Rewritten"), 2);

  gauge.record("Deployment", "shop/web", "ConflictingWriter");
  EXPECT_EQ(workloads(metrics, "Deployment", "Rewritten"), 1);
  EXPECT_EQ(workloads(metrics, "Deployment", "ConflictingWriter"), 1);
}

TEST(WorkloadConditionGauge, ForgottenWorkloadsCountNoMoreAndTheirReasonStaysAtZero) {
  kube::MetricsRegistry metrics;
  WorkloadConditionGauge gauge(metrics);
  gauge.record("Deployment", "shop/web", "InvalidProbe");
  gauge.forget("Deployment", "shop/web");
  gauge.forget("Deployment", "shop/never-seen");
  EXPECT_EQ(workloads(metrics, "Deployment", "InvalidProbe"), 0);
  EXPECT_NE(
      metrics.render().find("meshprobe_workloads{kind=\"Deployment\",reason=\"InvalidProbe\"} 0"),
      std::string::npos)
      << "the series stays, at 0, so that an alert on it resolves:\n"
      << metrics.render();
}

TEST(WorkloadConditionGauge, KindsAreCountedApart) {
  kube::MetricsRegistry metrics;
  WorkloadConditionGauge gauge(metrics);
  gauge.record("Deployment", "shop/web", "Rewritten");
  gauge.record("StatefulSet", "shop/web", "Rewritten");
  gauge.forget("Deployment", "shop/web");
  EXPECT_EQ(workloads(metrics, "Deployment", "Rewritten"), 0);
  EXPECT_EQ(workloads(metrics, "StatefulSet", "Rewritten"), 1);
}

}  // namespace
}  // namespace meshprobe::controller
