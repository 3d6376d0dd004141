#include "agent/metrics.h"

#include <gtest/gtest.h>

namespace meshprobe::agent {
namespace {

using std::chrono::milliseconds;

bool contains(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(AgentMetrics, ConfiguredPathsAreThereBeforeAnyProbe) {
  AgentMetrics metrics({"/app-health/web/livez"});
  const std::string text = metrics.render();
  EXPECT_TRUE(contains(text, R"(meshprobe_agent_probes_total{path="/app-health/web/livez"} 0)"));
  EXPECT_TRUE(contains(
      text,
      R"(meshprobe_agent_probe_duration_seconds_bucket{path="/app-health/web/livez",le="+Inf"} 0)"));
  EXPECT_TRUE(contains(text, "meshprobe_agent_open_connections 0"));
}

TEST(AgentMetrics, CountsProbesFailuresByReasonAndLatency) {
  AgentMetrics metrics({"/app-health/web/livez", "/app-health/web/readyz"});
  metrics.record_probe("/app-health/web/livez", ProbeOutcome::success(), milliseconds(3));
  metrics.record_probe("/app-health/web/livez", ProbeOutcome::failure(FailureReason::kTimeout, ""),
                       milliseconds(1000));
  metrics.record_probe("/app-health/web/livez",
                       ProbeOutcome::failure(FailureReason::kStatusCode, "", 503),
                       milliseconds(20));
  metrics.record_probe("/app-health/web/livez", ProbeOutcome::failure(FailureReason::kTimeout, ""),
                       milliseconds(1000));
  metrics.record_probe("/not/configured", ProbeOutcome::success(), milliseconds(1));
  const std::string text = metrics.render();
  const std::string labels = R"(path="/app-health/web/livez")";
  EXPECT_TRUE(contains(text, "meshprobe_agent_probes_total{" + labels + "} 4"));
  EXPECT_TRUE(contains(text, R"(meshprobe_agent_probes_total{path="/app-health/web/readyz"} 0)"));
  EXPECT_TRUE(
      contains(text, "meshprobe_agent_probe_failures_total{" + labels + R"(,reason="timeout"} 2)"));
  EXPECT_TRUE(contains(
      text, "meshprobe_agent_probe_failures_total{" + labels + R"(,reason="status_code"} 1)"));
  EXPECT_TRUE(contains(
      text, "meshprobe_agent_probe_duration_seconds_bucket{" + labels + R"(,le="0.0025"} 0)"));
  EXPECT_TRUE(contains(
      text, "meshprobe_agent_probe_duration_seconds_bucket{" + labels + R"(,le="0.005"} 1)"));
  EXPECT_TRUE(contains(
      text, "meshprobe_agent_probe_duration_seconds_bucket{" + labels + R"(,le="0.025"} 2)"));
  EXPECT_TRUE(contains(
      text, "meshprobe_agent_probe_duration_seconds_bucket{" + labels + R"(,le="0.5"} 2)"));
  EXPECT_TRUE(
      contains(text, "meshprobe_agent_probe_duration_seconds_bucket{" + labels + R"(,le="1"} 4)"));
  EXPECT_TRUE(contains(
      text, "meshprobe_agent_probe_duration_seconds_bucket{" + labels + R"(,le="+Inf"} 4)"));
  EXPECT_TRUE(contains(text, "meshprobe_agent_probe_duration_seconds_sum{" + labels + "} 2.023"));
  EXPECT_TRUE(contains(text, "meshprobe_agent_probe_duration_seconds_count{" + labels + "} 4"));
  EXPECT_EQ(text.find("/not/configured"), std::string::npos);
}

TEST(AgentMetrics, CountsRejectionsAndOpenConnections) {
  AgentMetrics metrics({});
  metrics.record_rejection(Rejection::kNotFound);
  metrics.record_rejection(Rejection::kNotFound);
  metrics.record_rejection(Rejection::kConnectionCap);
  metrics.connection_opened();
  metrics.connection_opened();
  metrics.connection_closed();
  const std::string text = metrics.render();
  EXPECT_TRUE(contains(text, R"(meshprobe_agent_rejected_total{reason="not_found"} 2)"));
  EXPECT_TRUE(contains(text, R"(meshprobe_agent_rejected_total{reason="connection_cap"} 1)"));
  EXPECT_TRUE(contains(text, "meshprobe_agent_open_connections 1"));
}

TEST(AgentMetrics, EveryFamilyHasHelpAndType) {
  const std::string text = AgentMetrics({"/app-health/a/livez"}).render();
  for (const char* family :
       {"meshprobe_agent_probes_total", "meshprobe_agent_probe_failures_total",
        "meshprobe_agent_probe_duration_seconds", "meshprobe_agent_rejected_total",
        "meshprobe_agent_open_connections"}) {
    EXPECT_NE(text.find(std::string("# HELP ") + family + " "), std::string::npos) << family;
    EXPECT_NE(text.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
  }
}

}  // namespace
}  // namespace meshprobe::agent
