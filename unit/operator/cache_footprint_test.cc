// What the Deployment cache holds per Deployment, measured: the heap bytes (glibc's mallinfo2)
// that 2,000 rewritten Deployments take in the operator's real informer with the real
// projection. The object is one the real API server served in the controller benchmark
// (testdata/rewritten_deployment.json: rewritten by meshprobe, rolled out by
// kube-controller-manager, four managedFields entries, three conditions). The controller's goal
// is 40 MB resident with 10,000 Deployments (docs/benchmarks.md); this test keeps the cache's
// share of it from growing unnoticed.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "cluster_fixture.h"

namespace meshprobe::controller {
namespace {

using nlohmann::json;

constexpr int kDeployments = 2000;
// The budget per cached Deployment. Measured: 1,280 bytes; 4,395 when the template was kept as
// plain MessagePack and the condition as a parsed nlohmann::json (docs/benchmarks.md).
constexpr double kBudgetBytes = 1500;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;  // the sanitizer's allocator does not feed mallinfo2
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

json served_deployment() {
  std::ifstream file(std::string(MESHPROBE_SOURCE_DIR) +
                     "/unit/operator/testdata/rewritten_deployment.json");
  return json::parse(file);
}

std::size_t heap_in_use() { return mallinfo2().uordblks; }

class CacheFootprintTest : public ClusterFixture {};

TEST_F(CacheFootprintTest, ARewrittenDeploymentCostsTheCacheLittle) {
  if (kSanitized) GTEST_SKIP() << "heap statistics need glibc's allocator";
  const json served = served_deployment();
  ASSERT_TRUE(project_workload(served, workload_kinds().front(), kTestAgentPort).rewritten);

  malloc_trim(0);
  const std::size_t before = heap_in_use();
  for (int i = 0; i < kDeployments; ++i) {
    // The copies differ as Deployments do: name, uid, resource version, labels.
    json object = served;
    char name[16];
    std::snprintf(name, sizeof name, "app-%06d", i);
    object["metadata"]["name"] = name;
    object["metadata"]["uid"] = "5d1f0c8e-0000-4000-8000-" +
                                std::string(12 - std::to_string(i).size(), '0') + std::to_string(i);
    object["metadata"]["resourceVersion"] = std::to_string(100000 + i);
    object["spec"]["template"]["metadata"]["labels"]["app"] = name;
    deployments->apply(kube::WatchEventType::kAdded, std::move(object));
  }
  const std::size_t after = heap_in_use();
  ASSERT_EQ(deployments->size(), static_cast<std::size_t>(kDeployments));

  const double per_deployment = static_cast<double>(after - before) / kDeployments;
  RecordProperty("bytes_per_deployment", std::to_string(static_cast<long>(per_deployment)));
  std::printf("the Deployment cache: %.0f bytes per rewritten Deployment\n", per_deployment);
  EXPECT_LE(per_deployment, kBudgetBytes);
}

}  // namespace
}  // namespace meshprobe::controller
