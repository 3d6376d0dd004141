#include "kube/metrics.h"

#include <gtest/gtest.h>

namespace meshprobe::kube {
namespace {

TEST(MetricsRegistryTest, RendersCountersGaugesAndHistogramsInTheTextFormat) {
  MetricsRegistry registry;
  auto& requests = registry.counter("rest_client_requests_total", "Requests by verb and code.",
                                    {"verb", "code"});
  requests.labels({"GET", "200"}).increment();
  requests.labels({"GET", "200"}).increment(2);
  requests.labels({"PATCH", "409"}).increment();
  registry.gauge("workqueue_depth", "Depth.", {"name"}).labels({"deploy\"ments"}).set(4);
  auto& latency = registry.histogram("request_seconds", "Latency.", {}, {0.1, 1.0});
  latency.labels({}).observe(0.05);
  latency.labels({}).observe(0.5);
  latency.labels({}).observe(5);
  EXPECT_EQ(registry.render(),
            "# HELP request_seconds Latency.\n"
            "# TYPE request_seconds histogram\n"
            "request_seconds_bucket{le=\"0.10000000000000001\"} 1\n"
            "request_seconds_bucket{le=\"1\"} 2\n"
            "request_seconds_bucket{le=\"+Inf\"} 3\n"
            "request_seconds_sum 5.5499999999999998\n"
            "request_seconds_count 3\n"
            "# HELP rest_client_requests_total Requests by verb and code.\n"
            "# TYPE rest_client_requests_total counter\n"
            "rest_client_requests_total{verb=\"GET\",code=\"200\"} 3\n"
            "rest_client_requests_total{verb=\"PATCH\",code=\"409\"} 1\n"
            "# HELP workqueue_depth Depth.\n"
            "# TYPE workqueue_depth gauge\n"
            "workqueue_depth{name=\"deploy\\\"ments\"} 4\n");
}

TEST(MetricsRegistryTest, RegisteringANameTwiceReturnsTheSameFamily) {
  MetricsRegistry registry;
  registry.counter("a_total", "A.", {"x"}).labels({"1"}).increment();
  registry.counter("a_total", "A.", {"x"}).labels({"1"}).increment();
  EXPECT_EQ(registry.counter("a_total", "A.", {"x"}).labels({"1"}).value(), 2.0);
}

TEST(MetricsRegistryTest, GaugesGoUpAndDown) {
  MetricsRegistry registry;
  Gauge& gauge = registry.gauge("g", "G.").labels({});
  gauge.add(3);
  gauge.add(-1);
  EXPECT_EQ(gauge.value(), 2.0);
}

}  // namespace
}  // namespace meshprobe::kube
