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

json realistic_deployment(const std::string& ns, int index) {
  const std::string name = "app-" + std::to_string(index);
  auto container = [&](const std::string& container_name, int port) {
    return json{
        {"name", container_name},
        {"image",
         "registry.example.com/team/" + container_name + ":1.4." + std::to_string(index % 10)},
        {"ports", json::array({{{"name", "http"}, {"containerPort", port}}})},
        {"env", json::array({{{"name", "LOG_LEVEL"}, {"value", "info"}},
                             {{"name", "SERVICE_NAME"}, {"value", name}},
                             {{"name", "POD_IP"},
                              {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}}})},
        {"resources",
         {{"requests", {{"cpu", "100m"}, {"memory", "128Mi"}}}, {"limits", {{"memory", "256Mi"}}}}},
        {"livenessProbe",
         {{"httpGet", {{"path", "/healthz"}, {"port", "http"}}},
          {"initialDelaySeconds", 5},
          {"periodSeconds", 10}}},
        {"readinessProbe",
         {{"httpGet", {{"path", "/ready"}, {"port", port}}}, {"periodSeconds", 5}}},
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
             {{"metadata",
               {{"labels", {{"app", name}, {"team", "shop"}}},
                {"annotations", {{"prometheus.io/scrape", "true"}}}}},
              {"spec",
               {{"containers", json::array({container("server", 8080), container("worker", 9090)})},
                {"volumes",
                 json::array({{{"name", "config"}, {"configMap", {{"name", name}}}}})}}}}}}}};
}

// What an operator that rewrites probes might keep: generation and the probe-bearing parts of
// the pod template, as MessagePack.
struct ProbeView {
  std::int64_t generation = 0;
  CompactObject template_;
};
ProbeView project_probes(const json& object) {
  json kept = json::object();
  const json& pod_template = object["spec"]["template"];
  kept["annotations"] = pod_template["metadata"].value("annotations", json::object());
  for (const char* list : {"containers", "initContainers"}) {
    for (const auto& container : pod_template["spec"].value(list, json::array())) {
      json slim = {{"name", container["name"]}};
      for (const char* field : {"ports", "livenessProbe", "readinessProbe", "startupProbe",
                                "lifecycle", "restartPolicy"}) {
        if (container.contains(field)) slim[field] = container[field];
      }
      kept[list].push_back(std::move(slim));
    }
  }
  return {object["metadata"].value("generation", std::int64_t{0}), CompactObject::encode(kept)};
}

struct Nothing {};

std::size_t heap_in_use() {
  malloc_trim(0);
  return mallinfo2().uordblks;
}

TEST_F(CacheMemoryTest, MemoryPerCachedDeploymentWithAThousandDeployments) {
  constexpr int kCount = 1000;
  kube::RestClientOptions fast;
  fast.queries_per_second = 500;
  fast.burst = 500;
  auto writer = connect(cluster().admin_kubeconfig, fast);
  ASSERT_TRUE(writer.ok());
  for (int index = 0; index < kCount; ++index) {
    auto created = (*writer)->api->create(kDeployments, test_namespace(),
                                          realistic_deployment(test_namespace(), index));
    ASSERT_TRUE(created.ok()) << created.error().message();
  }
  // Wait for the deployment controller's status, so the objects are as big as in real life.
  ASSERT_TRUE(
      eventually("status on every Deployment", std::chrono::seconds(300), [&]() -> AssertionResult {
        int with_status = 0;
        kube::list_all_pages(*(*writer)->api, kDeployments, test_namespace(), {}, 500,
                             [&](json item) {
                               if (item["status"].value("observedGeneration", 0) >= 1 &&
                                   item["status"].contains("conditions"))
                                 ++with_status;
                             });
        if (with_status == kCount) return AssertionSuccess();
        return AssertionFailure() << with_status << " of " << kCount;
      }));

  kube::ReflectorOptions options;
  options.namespace_name = test_namespace();
  std::printf("\n| projection (%d Deployments) | heap bytes per Deployment |\n|---|---|\n", kCount);
  auto measure = [&](const char* label, auto project, auto transform) -> double {
    using T = decltype(project(json()));
    const std::size_t before = heap_in_use();
    double per_object = 0;
    {
      Informer<T> informer("deployments", *(*writer)->api, kube::fixed_resource(kDeployments),
                           project, options, (*writer)->clock, (*writer)->random,
                           (*writer)->metrics, (*writer)->logger, transform);
      informer.start();
      std::stop_source never;
      EXPECT_TRUE(informer.wait_for_sync(never.get_token()));
      EXPECT_EQ(informer.size(), static_cast<std::size_t>(kCount));
      informer.stop();  // the watch's buffers are not the cache
      per_object = static_cast<double>(heap_in_use() - before) / kCount;
    }
    std::printf("| %s | %.0f |\n", label, per_object);
    return per_object;
  };
  auto keep_all = [](json&) {};
  const double whole_json = measure(
      "nlohmann::json, whole object", [](const json& object) { return object; }, keep_all);
  const double without_managed = measure(
      "nlohmann::json, without managedFields", [](const json& object) { return object; },
      kube::drop_managed_fields);
  const double compact = measure("CompactObject (deflated MessagePack), without managedFields",
                                 kube::project_compact, kube::drop_managed_fields);
  const double probes = measure("typed projection: generation + probe parts of the template",
                                project_probes, kube::drop_managed_fields);
  const double metadata_only = measure(
      "metadata only (key, resourceVersion, labels)", [](const json&) { return Nothing{}; },
      kube::drop_managed_fields);
  std::fflush(stdout);
  EXPECT_LT(without_managed, whole_json);
  EXPECT_LT(compact, without_managed / 3);
  EXPECT_LT(probes, compact);
  EXPECT_LT(metadata_only, probes);
  // The budget: 10,000 Deployments in a 40 MB controller leaves well under 4 KB each.
  EXPECT_LT(probes, 2048.0);
}

}  // namespace
}  // namespace meshprobe::e2e
