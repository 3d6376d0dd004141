// The memory a cached Deployment costs, per projection, with 1,000 real Deployments (two
// containers with probes, env and resources; status from the deployment controller). A
// benchmark with bounds, label "bench": not part of the CI run (it takes minutes). Run it:
//   e2e/cluster/up /tmp/mp && set -a && source /tmp/mp/env && set +a
//   ctest --test-dir build -L bench --output-on-failure
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdio>

#include "connection.h"
#include "harness/end_to_end_test.h"
#include "kube/informer.h"

namespace meshprobe::e2e {
namespace {

using kube::CompactObject;
using kube::Informer;
using kube::resources::kDeployments;
using nlohmann::json;
using ::testing::AssertionFailure;
using ::testing::AssertionResult;
using ::testing::AssertionSuccess;

class CacheMemoryTest : public EndToEndTest {};

json realisticDeployment(const std::string& ns, int index) {
  const std::string name = "app-" + std::to_string(index);
  auto container = [&](const std::string& containerName, int port) {
    return json{
        {"name", containerName},
        {"image", "registry.example.com/team/" + containerName + ":1.4." + std::to_string(index % 10)},
        {"ports", json::array({{{"name", "http"}, {"containerPort", port}}})},
        {"env", json::array({{{"name", "LOG_LEVEL"}, {"value", "info"}},
                             {{"name", "SERVICE_NAME"}, {"value", name}},
                             {{"name", "POD_IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}}})},
        {"resources", {{"requests", {{"cpu", "100m"}, {"memory", "128Mi"}}},
                       {"limits", {{"memory", "256Mi"}}}}},
        {"livenessProbe", {{"httpGet", {{"path", "/healthz"}, {"port", "http"}}},
                           {"initialDelaySeconds", 5}, {"periodSeconds", 10}}},
        {"readinessProbe", {{"httpGet", {{"path", "/ready"}, {"port", port}}}, {"periodSeconds", 5}}},
        {"volumeMounts", json::array({{{"name", "config"}, {"mountPath", "/etc/app"}}})}};
  };
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"labels", {{"app", name}, {"team", "shop"}, {"tier", "backend"}}},
            {"annotations", {{"owner", "shop-team@example.com"}}}}},
          {"spec",
           {{"replicas", 0},
            {"selector", {{"matchLabels", {{"app", name}}}}},
            {"template",
             {{"metadata", {{"labels", {{"app", name}, {"team", "shop"}}},
                            {"annotations", {{"prometheus.io/scrape", "true"}}}}},
              {"spec",
               {{"containers", json::array({container("server", 8080), container("worker", 9090)})},
                {"volumes", json::array({{{"name", "config"}, {"configMap", {{"name", name}}}}})}}}}}}}};
}

// What an operator that rewrites probes might keep: generation and the probe-bearing parts of
// the pod template, as MessagePack.
struct ProbeView {
  std::int64_t generation = 0;
  CompactObject template_;
};
ProbeView projectProbes(const json& object) {
  json kept = json::object();
  const json& podTemplate = object["spec"]["template"];
  kept["annotations"] = podTemplate["metadata"].value("annotations", json::object());
  for (const char* list : {"containers", "initContainers"}) {
    for (const auto& container : podTemplate["spec"].value(list, json::array())) {
      json slim = {{"name", container["name"]}};
      for (const char* field : {"ports", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle", "restartPolicy"}) {
        if (container.contains(field)) slim[field] = container[field];
      }
      kept[list].push_back(std::move(slim));
    }
  }
  return {object["metadata"].value("generation", std::int64_t{0}), CompactObject::encode(kept)};
}

struct Nothing {};

std::size_t heapInUse() {
  malloc_trim(0);
  return mallinfo2().uordblks;
}

TEST_F(CacheMemoryTest, MemoryPerCachedDeploymentWithAThousandDeployments) {
  constexpr int kCount = 1000;
  kube::RestClientOptions fast;
  fast.queriesPerSecond = 500;
  fast.burst = 500;
  auto writer = connect(cluster().admin_kubeconfig, fast);
  ASSERT_TRUE(writer.ok());
  for (int index = 0; index < kCount; ++index) {
    auto created = (*writer)->api->create(kDeployments, testNamespace(), realisticDeployment(testNamespace(), index));
    ASSERT_TRUE(created.ok()) << created.error().message();
  }
  // Wait for the deployment controller's status, so the objects are as big as in real life.
  ASSERT_TRUE(eventually("status on every Deployment", std::chrono::seconds(300), [&]() -> AssertionResult {
    int withStatus = 0;
    kube::listAllPages(*(*writer)->api, kDeployments, testNamespace(), {}, 500, [&](json item) {
      if (item["status"].value("observedGeneration", 0) >= 1 && item["status"].contains("conditions")) ++withStatus;
    });
    if (withStatus == kCount) return AssertionSuccess();
    return AssertionFailure() << withStatus << " of " << kCount;
  }));

  kube::ReflectorOptions options;
  options.namespaceName = testNamespace();
  std::printf("\n| projection (%d Deployments) | heap bytes per Deployment |\n|---|---|\n", kCount);
  auto measure = [&](const char* label, auto project, auto transform) -> double {
    using T = decltype(project(json()));
    const std::size_t before = heapInUse();
    double perObject = 0;
    {
      Informer<T> informer("deployments", *(*writer)->api, kube::fixedResource(kDeployments), project,
                           options, (*writer)->clock, (*writer)->random, (*writer)->metrics,
                           (*writer)->logger, transform);
      informer.start();
      std::stop_source never;
      EXPECT_TRUE(informer.waitForSync(never.get_token()));
      EXPECT_EQ(informer.size(), static_cast<std::size_t>(kCount));
      informer.stop();  // the watch's buffers are not the cache
      perObject = static_cast<double>(heapInUse() - before) / kCount;
    }
    std::printf("| %s | %.0f |\n", label, perObject);
    return perObject;
  };
  auto keepAll = [](json&) {};
  const double wholeJson = measure("nlohmann::json, whole object", [](const json& object) { return object; }, keepAll);
  const double withoutManaged = measure("nlohmann::json, without managedFields",
                                        [](const json& object) { return object; }, kube::dropManagedFields);
  const double compact = measure("CompactObject (MessagePack), without managedFields", kube::projectCompact,
                                 kube::dropManagedFields);
  const double probes = measure("typed projection: generation + probe parts of the template", projectProbes,
                                kube::dropManagedFields);
  const double metadataOnly = measure("metadata only (key, resourceVersion, labels)",
                                      [](const json&) { return Nothing{}; }, kube::dropManagedFields);
  std::fflush(stdout);
  EXPECT_LT(withoutManaged, wholeJson);
  EXPECT_LT(compact, withoutManaged / 3);
  EXPECT_LT(probes, compact);
  EXPECT_LT(metadataOnly, probes);
  // The budget: 10,000 Deployments in a 40 MB controller leaves well under 4 KB each.
  EXPECT_LT(probes, 2048.0);
}

}  // namespace
}  // namespace meshprobe::e2e
