// Informers against the real kube-apiserver: list and watch see every create, update and
// delete; kube-apiserver killed and restarted during a watch loses nothing; a watch from a
// compacted resourceVersion gets 410 Gone and relists; a CRD installed after start is noticed.
#include "kube/informer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "connection.h"
#include "harness/end_to_end_test.h"
#include "tcp_proxy.h"

namespace meshprobe::e2e {
namespace {

using kube::CompactObject;
using kube::Informer;
using kube::resources::kConfigMaps;
using kube::resources::kDeployments;
using nlohmann::json;
using ::testing::AssertionFailure;
using ::testing::AssertionResult;
using ::testing::AssertionSuccess;

constexpr std::chrono::seconds kWatchTimeout{60};

struct EventLog {
  std::mutex mutex;
  std::vector<std::string> lines;
  void add(std::string line) {
    std::lock_guard lock(mutex);
    lines.push_back(std::move(line));
  }
  bool contains(const std::string& line) {
    std::lock_guard lock(mutex);
    return std::find(lines.begin(), lines.end(), line) != lines.end();
  }
};

template <typename T>
typename Informer<T>::Handlers record_into(EventLog& log) {
  return {[&log](auto& object) { log.add("add " + object->metadata.name); },
          [&log](auto&, auto& object) { log.add("update " + object->metadata.name); },
          [&log](auto& object) { log.add("delete " + object->metadata.name); }};
}

class KubeInformerTest : public EndToEndTest {
 protected:
  void SetUp() override {
    EndToEndTest::SetUp();
    auto connection = connect(cluster().admin_kubeconfig);
    ASSERT_TRUE(connection.ok()) << connection.error().message;
    client_ = std::move(connection).value();
  }

  json config_map(const std::string& name, const std::string& value) {
    return {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata", {{"name", name}, {"namespace", test_namespace()}}},
            {"data", {{"value", value}}}};
  }

  // name -> resourceVersion, from the server.
  std::map<std::string, std::string> server_state(const kube::ResourceType& type) {
    std::map<std::string, std::string> state;
    auto listed = kube::list_all_pages(
        *client_->api, type, test_namespace(), {}, 500,
        [&](json item) { state[item["metadata"]["name"]] = item["metadata"]["resourceVersion"]; });
    EXPECT_TRUE(listed.ok()) << listed.error().message();
    return state;
  }

  template <typename T>
  static std::map<std::string, std::string> cache_state(const Informer<T>& informer) {
    std::map<std::string, std::string> state;
    for (const auto& object : informer.list())
      state[object->metadata.name] = object->metadata.resource_version;
    return state;
  }

  template <typename T>
  AssertionResult cache_matches_server(const Informer<T>& informer,
                                       const kube::ResourceType& type) {
    auto server = server_state(type);
    auto cache = cache_state(informer);
    if (server == cache) return AssertionSuccess();
    return AssertionFailure() << "cache has " << cache.size() << " objects, server "
                              << server.size();
  }

  // A started and synced informer of this test's ConfigMaps that records its events; it
  // reconnects within 2 s so tests of outages stay short.
  std::unique_ptr<Informer<CompactObject>> start_config_map_informer(EventLog& log) {
    kube::ReflectorOptions options;
    options.namespace_name = test_namespace();
    options.backoff.maximum = std::chrono::seconds(2);
    auto informer = std::make_unique<Informer<CompactObject>>(
        "configmaps", *client_->api, kube::fixed_resource(kConfigMaps), kube::project_compact,
        options, client_->clock, client_->random, client_->metrics, client_->logger);
    informer->add_handlers(record_into<CompactObject>(log));
    informer->start();
    std::stop_source never;
    EXPECT_TRUE(informer->wait_for_sync(never.get_token()));
    return informer;
  }

  std::unique_ptr<Connection> client_;
};

TEST_F(KubeInformerTest, ListAndWatchSeeCreateUpdateAndDelete) {
  ASSERT_TRUE(client_->api->create(kConfigMaps, test_namespace(), config_map("before", "1")).ok());
  EventLog log;
  auto config_maps = start_config_map_informer(log);
  auto& informer = *config_maps;
  EXPECT_TRUE(log.contains("add before"));

  ASSERT_TRUE(client_->api->create(kConfigMaps, test_namespace(), config_map("during", "1")).ok());
  ASSERT_TRUE(client_->api
                  ->patch(kConfigMaps, test_namespace(), "before", kube::PatchType::kMerge,
                          R"({"data":{"value":"2"}})")
                  .ok());
  ASSERT_TRUE(client_->api->remove(kConfigMaps, test_namespace(), "during").ok());
  EXPECT_TRUE(eventually("the watch to deliver create, update and delete", kWatchTimeout, [&] {
    return log.contains("add during") && log.contains("update before") &&
           log.contains("delete during");
  }));
  EXPECT_TRUE(eventually("the cache to equal the server", kWatchTimeout,
                         [&] { return cache_matches_server(informer, kConfigMaps); }));
  EXPECT_EQ(informer.get(test_namespace() + "/before")->value.decode()["data"]["value"], "2");
  EXPECT_FALSE(informer.get(test_namespace() + "/before")
                   ->value.decode()["metadata"]
                   .contains("managedFields"));
  informer.stop();
}

TEST_F(KubeInformerTest, ApiServerKilledAndRestartedDuringAWatchLosesNothing) {
  for (int index = 0; index < 5; ++index) {
    ASSERT_TRUE(
        client_->api
            ->create(kConfigMaps, test_namespace(), config_map("old-" + std::to_string(index), "1"))
            .ok());
  }
  EventLog log;
  auto config_maps = start_config_map_informer(log);
  auto& informer = *config_maps;
  ASSERT_TRUE(eventually("the watch to be open", kWatchTimeout, [&] {
    return client_->counter("reflector_watches_total", {"configmaps"}) >= 1;
  }));

  ASSERT_TRUE(command_succeeded(run_command(
      {"/bin/bash", std::string(MESHPROBE_SOURCE_DIR) + "/e2e/tests/kube/restart_api_server.sh",
       cluster().state_directory},
      "", std::chrono::seconds(60))));
  ASSERT_TRUE(eventually("kube-apiserver to be ready again", std::chrono::seconds(120), [&] {
    return kubectl().run({"get", "--raw", "/readyz"}).succeeded();
  }));
  // Changes while the informer is still reconnecting.
  auto created = client_->api->create(kConfigMaps, test_namespace(), config_map("new", "1"));
  ASSERT_TRUE(created.ok()) << created.error().message();
  auto patched = client_->api->patch(kConfigMaps, test_namespace(), "old-0",
                                     kube::PatchType::kMerge, R"({"data":{"value":"changed"}})");
  ASSERT_TRUE(patched.ok()) << patched.error().message();
  auto removed = client_->api->remove(kConfigMaps, test_namespace(), "old-1");
  ASSERT_TRUE(removed.ok()) << removed.error().message();

  EXPECT_TRUE(eventually("the cache to equal the server", kWatchTimeout,
                         [&] { return cache_matches_server(informer, kConfigMaps); }));
  EXPECT_TRUE(log.contains("add new"));
  EXPECT_TRUE(log.contains("update old-0"));
  EXPECT_TRUE(log.contains("delete old-1"));
  EXPECT_GE(client_->counter("reflector_watch_restarts_total", {"configmaps", "error"}), 1.0);
  informer.stop();
}

// A forced 410: the informer is cut off from kube-apiserver (a relay between them drops every
// connection) while objects change and etcd is compacted past the informer's
// resourceVersion. Events bypass kube-apiserver's watch cache (its default), so the renewed
// watch is refused by etcd itself with 410 Gone, and the informer must relist; the relist
// must turn what it missed into events.
TEST_F(KubeInformerTest, AWatchFromACompactedResourceVersionRelists) {
  auto event = [&](const std::string& name) {
    return json{
        {"apiVersion", "v1"},
        {"kind", "Event"},
        {"metadata", {{"name", name}, {"namespace", test_namespace()}}},
        {"involvedObject", {{"kind", "ConfigMap"}, {"name", "x"}, {"namespace", test_namespace()}}},
        {"reason", "Test"},
        {"message", "m"},
        {"type", "Normal"}};
  };
  ASSERT_TRUE(
      client_->api->create(kube::resources::kEvents, test_namespace(), event("first")).ok());
  ASSERT_TRUE(
      client_->api->create(kube::resources::kEvents, test_namespace(), event("doomed")).ok());

  const std::string server = cluster().server;
  TcpProxy proxy("127.0.0.1",
                 static_cast<std::uint16_t>(std::stoi(server.substr(server.rfind(':') + 1))));
  Connection relayed;
  auto config = kube::load_kubeconfig(cluster().admin_kubeconfig);
  ASSERT_TRUE(config.ok());
  config->server = "https://127.0.0.1:" + std::to_string(proxy.port());
  auto transport = kube::CpprestTransport::create(*config, relayed.clock);
  ASSERT_TRUE(transport.ok()) << transport.error().message;
  relayed.transport = std::move(transport).value();
  relayed.api = std::make_unique<kube::RestClient>(*relayed.transport, kube::RestClientOptions{},
                                                   relayed.clock, relayed.metrics);

  kube::ReflectorOptions options;
  options.namespace_name = test_namespace();
  options.backoff.maximum = std::chrono::seconds(2);
  Informer<CompactObject> informer(
      "events", *relayed.api, kube::fixed_resource(kube::resources::kEvents), kube::project_compact,
      options, relayed.clock, relayed.random, relayed.metrics, relayed.logger);
  EventLog log;
  informer.add_handlers(record_into<CompactObject>(log));
  informer.start();
  std::stop_source never;
  ASSERT_TRUE(informer.wait_for_sync(never.get_token()));

  proxy.cut();
  ASSERT_TRUE(
      client_->api->create(kube::resources::kEvents, test_namespace(), event("while-away")).ok());
  ASSERT_TRUE(client_->api->remove(kube::resources::kEvents, test_namespace(), "doomed").ok());
  ASSERT_TRUE(command_succeeded(run_command(
      {"/bin/bash", std::string(MESHPROBE_SOURCE_DIR) + "/e2e/tests/kube/compact_etcd.sh",
       cluster().state_directory},
      "", std::chrono::seconds(60))));
  EXPECT_TRUE(eventually("the informer to notice it is cut off", kWatchTimeout, [&] {
    return relayed.counter("reflector_watch_restarts_total", {"events", "error"}) >= 1;
  }));
  proxy.resume();

  EXPECT_TRUE(eventually("410 Gone and a relist", kWatchTimeout, [&] {
    return relayed.counter("reflector_watch_restarts_total", {"events", "gone"}) >= 1 &&
           relayed.counter("reflector_lists_total", {"events"}) >= 2;
  }));
  EXPECT_TRUE(eventually("the cache to equal the server", kWatchTimeout,
                         [&] { return cache_matches_server(informer, kube::resources::kEvents); }));
  EXPECT_TRUE(log.contains("add while-away"));
  EXPECT_TRUE(log.contains("delete doomed"));
  ASSERT_TRUE(
      client_->api->create(kube::resources::kEvents, test_namespace(), event("after")).ok());
  EXPECT_TRUE(eventually("the new watch to deliver", kWatchTimeout,
                         [&] { return log.contains("add after"); }));
  informer.stop();
}

TEST_F(KubeInformerTest, ACustomResourceInstalledAfterStartIsNoticed) {
  std::mt19937 random(std::random_device{}());
  const std::string group = "e2e" + std::to_string(random() % 1000000) + ".meshprobe.io";
  kube::ReflectorOptions options;
  options.namespace_name = test_namespace();
  options.discovery_interval = std::chrono::seconds(1);
  kube::Discovery discovery(*client_->api);
  Informer<CompactObject> informer("widgets", *client_->api,
                                   discovery.resolver(group, "widgets", {"v1", "v1beta1"}),
                                   kube::project_compact, options, client_->clock, client_->random,
                                   client_->metrics, client_->logger);
  informer.start();
  std::stop_source never;
  ASSERT_TRUE(informer.wait_for_sync(never.get_token())) << "synced, empty, while not served";
  EXPECT_EQ(informer.size(), 0u);

  const std::string crd = R"(apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.)" +
                          group + R"(}
spec:
  group: )" + group + R"(
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
)";
  ASSERT_TRUE(command_succeeded(kubectl().run({"apply", "-f", "-"}, crd)));
  struct RemoveCrd {
    const Kubectl& kubectl;
    std::string name;
    ~RemoveCrd() { kubectl.run({"delete", "crd", name, "--wait=false"}); }
  } remove_crd{kubectl(), "widgets." + group};
  ASSERT_TRUE(command_succeeded(kubectl().run(
      {"wait", "--for=condition=Established", "crd/widgets." + group, "--timeout=60s"})));
  ASSERT_TRUE(eventually("a widget to be created", kWatchTimeout, [&] {
    return apply("apiVersion: " + group + "/v1\nkind: Widget\nmetadata: {name: first}\n");
  }));
  EXPECT_TRUE(eventually("the informer to see the widget", kWatchTimeout,
                         [&] { return informer.get(test_namespace() + "/first") != nullptr; }));
  informer.stop();
}

}  // namespace
}  // namespace meshprobe::e2e
