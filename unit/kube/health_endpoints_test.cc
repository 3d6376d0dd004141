#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube/health_server.h"

namespace meshprobe::kube {
namespace {

using ::testing::HasSubstr;

TEST(HealthEndpointsTest, HealthyChecksAnswerOk) {
  MetricsRegistry metrics;
  HealthEndpoints endpoints(metrics);
  endpoints.add_liveness_check("ping", [] { return std::nullopt; });
  HealthResponse response = endpoints.respond("GET", "/healthz");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "ok");
  EXPECT_EQ(endpoints.respond("GET", "/readyz").status, 200) << "no readiness check: ready";
}

TEST(HealthEndpointsTest, AFailingCheckIs500AndNamesItself) {
  MetricsRegistry metrics;
  HealthEndpoints endpoints(metrics);
  bool synced = false;
  endpoints.add_readiness_check("informers", [&]() -> std::optional<std::string> {
    if (synced) return std::nullopt;
    return "deployments not synced";
  });
  endpoints.add_readiness_check("ping", [] { return std::nullopt; });
  HealthResponse response = endpoints.respond("GET", "/readyz");
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(response.body,
            "[-]informers failed: deployments not synced\n[+]ping ok\ncheck failed\n");
  synced = true;
  EXPECT_EQ(endpoints.respond("GET", "/readyz").body, "ok");
  EXPECT_EQ(endpoints.respond("GET", "/readyz?verbose").body,
            "[+]informers ok\n[+]ping ok\ncheck passed\n");
  EXPECT_EQ(endpoints.respond("GET", "/healthz").status, 200) << "liveness is separate";
}

TEST(HealthEndpointsTest, MetricsAreTheRegistryInTheTextFormat) {
  MetricsRegistry metrics;
  metrics.counter("things_total", "Things.").labels({}).increment();
  HealthEndpoints endpoints(metrics);
  HealthResponse response = endpoints.respond("GET", "/metrics");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(response.body, HasSubstr("things_total 1\n"));
}

TEST(HealthEndpointsTest, UnknownPathsAndMethods) {
  MetricsRegistry metrics;
  HealthEndpoints endpoints(metrics);
  EXPECT_EQ(endpoints.respond("GET", "/other").status, 404);
  EXPECT_EQ(endpoints.respond("POST", "/healthz").status, 405);
  EXPECT_EQ(endpoints.respond("HEAD", "/healthz").status, 200);
}

}  // namespace
}  // namespace meshprobe::kube
