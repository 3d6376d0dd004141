// RestClient over cpprestsdk against the real kube-apiserver: every verb, typed errors,
// paging, server-side apply conflicts, and the ways to authenticate (client certificate,
// service-account token, in-cluster files) with TLS verified, and refused with a wrong CA.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "connection.h"
#include "harness/end_to_end_test.h"
#include "kube/discovery.h"

namespace meshprobe::e2e {
namespace {

using kube::ApiErrorKind;
using kube::resources::kConfigMaps;
using nlohmann::json;
using ::testing::HasSubstr;

class KubeClientTest : public EndToEndTest {
 protected:
  std::unique_ptr<Connection> admin() {
    auto connection = connect(cluster().admin_kubeconfig);
    EXPECT_TRUE(connection.ok()) << connection.error().message;
    return connection.ok() ? std::move(connection).value() : nullptr;
  }
  json config_map(const std::string& name, json data) {
    return {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata", {{"name", name}, {"namespace", test_namespace()}}},
            {"data", data}};
  }
};

TEST_F(KubeClientTest, EveryVerbWithAClientCertificateAndTypedErrors) {
  auto client = admin();
  ASSERT_TRUE(client);
  kube::KubernetesApi& api = *client->api;
  auto created = api.create(kConfigMaps, test_namespace(), config_map("settings", {{"a", "1"}}));
  ASSERT_TRUE(created.ok()) << created.error().message();
  EXPECT_TRUE(api.create(kConfigMaps, test_namespace(), config_map("settings", {{"a", "1"}}))
                  .error()
                  .is(ApiErrorKind::kAlreadyExists));

  auto fetched = api.get(kConfigMaps, test_namespace(), "settings");
  ASSERT_TRUE(fetched.ok()) << fetched.error().message();
  EXPECT_EQ((*fetched)["data"]["a"], "1");

  json stale = *created;
  json fresh = *fetched;
  fresh["data"]["a"] = "2";
  auto updated = api.update(kConfigMaps, test_namespace(), fresh);
  ASSERT_TRUE(updated.ok()) << updated.error().message();
  stale["data"]["a"] = "3";
  stale["metadata"]["resourceVersion"] = (*created)["metadata"]["resourceVersion"];
  auto conflict = api.update(kConfigMaps, test_namespace(), stale);
  EXPECT_TRUE(conflict.error().is(ApiErrorKind::kConflict)) << conflict.error().message();

  auto merged = api.patch(kConfigMaps, test_namespace(), "settings", kube::PatchType::kMerge,
                          R"({"data":{"b":"merged"}})");
  ASSERT_TRUE(merged.ok()) << merged.error().message();
  auto patched = api.patch(kConfigMaps, test_namespace(), "settings", kube::PatchType::kJson,
                           R"([{"op":"replace","path":"/data/a","value":"json"}])");
  ASSERT_TRUE(patched.ok()) << patched.error().message();
  EXPECT_EQ((*patched)["data"], (json{{"a", "json"}, {"b", "merged"}}));

  kube::DeleteOptions precondition;
  precondition.precondition_resource_version = (*created)["metadata"]["resourceVersion"];
  EXPECT_TRUE(api.remove(kConfigMaps, test_namespace(), "settings", precondition)
                  .error()
                  .is(ApiErrorKind::kConflict));
  EXPECT_TRUE(api.remove(kConfigMaps, test_namespace(), "settings").ok());
  auto gone = api.get(kConfigMaps, test_namespace(), "settings");
  EXPECT_TRUE(gone.error().is(ApiErrorKind::kNotFound)) << gone.error().message();
  EXPECT_EQ(client->counter("rest_client_requests_total",
                            {"404", "GET", kube::server_host(client->config.server)}),
            1.0);
}

TEST_F(KubeClientTest, InvalidObjectsCarryTheirFieldCauses) {
  auto client = admin();
  ASSERT_TRUE(client);
  auto invalid =
      client->api->create(kConfigMaps, test_namespace(), config_map("Not_A_Name", json::object()));
  ASSERT_FALSE(invalid.ok());
  EXPECT_TRUE(invalid.error().is(ApiErrorKind::kInvalid)) << invalid.error().message();
  ASSERT_FALSE(invalid.error().causes.empty());
  EXPECT_EQ(invalid.error().causes[0].field, "metadata.name");
}

TEST_F(KubeClientTest, ListsEveryPage) {
  auto client = admin();
  ASSERT_TRUE(client);
  for (int index = 0; index < 25; ++index) {
    json object = config_map("page-" + std::to_string(index), {{"i", std::to_string(index)}});
    object["metadata"]["labels"] = {{"paged", "yes"}};
    ASSERT_TRUE(client->api->create(kConfigMaps, test_namespace(), object).ok());
  }
  kube::ListOptions options;
  options.label_selector = "paged=yes";
  std::set<std::string> names;
  auto version = kube::list_all_pages(*client->api, kConfigMaps, test_namespace(), options, 10,
                                      [&](json item) { names.insert(item["metadata"]["name"]); });
  ASSERT_TRUE(version.ok()) << version.error().message();
  EXPECT_FALSE(version->empty());
  EXPECT_EQ(names.size(), 25u);
  EXPECT_EQ(client->counter("rest_client_requests_total",
                            {"200", "GET", kube::server_host(client->config.server)}),
            3.0);
}

TEST_F(KubeClientTest, ServerSideApplyConflictsUnlessForced) {
  ASSERT_TRUE(apply(R"(
apiVersion: v1
kind: ConfigMap
metadata: {name: shared}
data: {probe: original}
)"));
  auto client = admin();
  ASSERT_TRUE(client);
  json ours = config_map("shared", {{"probe", "rewritten"}});
  auto refused = kube::apply(*client->api, kConfigMaps, test_namespace(), ours, "meshprobe");
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.error().is(ApiErrorKind::kConflict)) << refused.error().message();
  ASSERT_FALSE(refused.error().causes.empty());
  EXPECT_EQ(refused.error().causes[0].reason, "FieldManagerConflict");
  EXPECT_EQ(refused.error().causes[0].field, ".data.probe");

  auto forced = kube::apply(*client->api, kConfigMaps, test_namespace(), ours, "meshprobe", true);
  ASSERT_TRUE(forced.ok()) << forced.error().message();
  EXPECT_EQ((*forced)["data"]["probe"], "rewritten");
  bool owned = false;
  for (const auto& entry : (*forced)["metadata"]["managedFields"]) {
    if (entry["manager"] == "meshprobe" && entry["operation"] == "Apply") owned = true;
  }
  EXPECT_TRUE(owned);
}

TEST_F(KubeClientTest, AServiceAccountTokenIsHeldToItsRole) {
  auto kubeconfig = service_account_kubeconfig(
      "reader",
      {{.api_groups = {""}, .resources = {"configmaps"}, .verbs = {"get", "list", "watch"}}});
  ASSERT_TRUE(kubeconfig.ok()) << kubeconfig.error().message;
  auto client = connect(*kubeconfig);
  ASSERT_TRUE(client.ok()) << client.error().message;
  auto listed = (*client)->api->list(kConfigMaps, test_namespace(), {});
  ASSERT_TRUE(listed.ok()) << listed.error().message();
  auto forbidden =
      (*client)->api->create(kConfigMaps, test_namespace(), config_map("x", json::object()));
  EXPECT_TRUE(forbidden.error().is(ApiErrorKind::kForbidden)) << forbidden.error().message();
  EXPECT_THAT(forbidden.error().message(),
              HasSubstr("system:serviceaccount:" + test_namespace() + ":reader"));
}

TEST_F(KubeClientTest, InClusterFilesWorkAndARotatedTokenIsUsed) {
  // A pod's service-account directory, made by hand: token and ca.crt.
  auto kubeconfig = service_account_kubeconfig(
      "pod", {{.api_groups = {""}, .resources = {"configmaps"}, .verbs = {"list"}}});
  ASSERT_TRUE(kubeconfig.ok()) << kubeconfig.error().message;
  auto with_token = kube::load_kubeconfig(*kubeconfig);
  ASSERT_TRUE(with_token.ok());
  const std::filesystem::path directory =
      std::filesystem::path(cluster().state_directory) / ("serviceaccount-" + test_namespace());
  std::filesystem::create_directories(directory);
  std::ofstream(directory / "token") << "not-a-valid-token";
  std::filesystem::copy_file(cluster().certificate_authority_file, directory / "ca.crt",
                             std::filesystem::copy_options::overwrite_existing);
  const std::string port = cluster().server.substr(cluster().server.rfind(':') + 1);
  auto config = kube::load_in_cluster(
      [&](const std::string& name) -> std::optional<std::string> {
        if (name == "KUBERNETES_SERVICE_HOST") return "127.0.0.1";
        if (name == "KUBERNETES_SERVICE_PORT") return port;
        return std::nullopt;
      },
      directory.string());
  ASSERT_TRUE(config.ok()) << config.error().message;
  kube::RealClock clock;
  kube::MetricsRegistry metrics;
  auto transport = kube::CpprestTransport::create(*config, clock);
  ASSERT_TRUE(transport.ok()) << transport.error().message;
  kube::RestClient api(**transport, {}, clock, metrics);
  EXPECT_TRUE(api.list(kConfigMaps, test_namespace(), {}).error().is(ApiErrorKind::kUnauthorized));
  // The kubelet rotates the file; the 401 made the client read it again.
  std::ofstream(directory / "token") << with_token->bearer_token << "\n";
  auto listed = api.list(kConfigMaps, test_namespace(), {});
  EXPECT_TRUE(listed.ok()) << listed.error().message();
}

TEST_F(KubeClientTest, AWrongCertificateAuthorityFailsVerificationNamingServerAndCa) {
  const std::filesystem::path directory =
      std::filesystem::path(cluster().state_directory) / ("wrong-ca-" + test_namespace());
  std::filesystem::create_directories(directory);
  const std::string ca_file = (directory / "other-ca.crt").string();
  ASSERT_TRUE(command_succeeded(
      run_command({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                   "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=some other CA", "-days", "1",
                   "-keyout", (directory / "other-ca.key").string(), "-out", ca_file},
                  "", std::chrono::seconds(30))));
  auto config = kube::load_kubeconfig(cluster().admin_kubeconfig);
  ASSERT_TRUE(config.ok());
  config->tls.ca_pem.clear();
  config->tls.ca_file = ca_file;
  config->tls.ca_description = "CA file " + ca_file;
  kube::RealClock clock;
  kube::MetricsRegistry metrics;
  auto transport = kube::CpprestTransport::create(*config, clock);
  ASSERT_TRUE(transport.ok()) << transport.error().message;
  kube::RestClient api(**transport, {}, clock, metrics);
  auto refused = api.list(kConfigMaps, test_namespace(), {});
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.error().is(ApiErrorKind::kTransport));
  EXPECT_THAT(refused.error().message(), HasSubstr("TLS handshake with " + cluster().server));
  EXPECT_THAT(refused.error().message(), HasSubstr("CA file " + ca_file));
}

// Each new connection of cpprestsdk loads OpenSSL's default CA bundle unless its file is
// pointed elsewhere (transport_cpprest.cc); the configured CA alone still verifies the server
// (above: a wrong one is refused).
TEST_F(KubeClientTest, WithACaConfiguredOpenSslsDefaultBundleIsNotLoaded) {
  auto client = admin();
  ASSERT_TRUE(client);
  ASSERT_FALSE(client->config.tls.ca_pem.empty() && client->config.tls.ca_file.empty());
  const char* default_file = std::getenv("SSL_CERT_FILE");
  ASSERT_NE(default_file, nullptr);
  EXPECT_STREQ(default_file, "/dev/null");
  auto listed = client->api->list(kConfigMaps, test_namespace(), {});
  EXPECT_TRUE(listed.ok()) << listed.error().message();
}

TEST_F(KubeClientTest, AMissingCertificateFileFailsAtStartWithItsName) {
  auto config = kube::load_kubeconfig(cluster().admin_kubeconfig);
  ASSERT_TRUE(config.ok());
  config->tls.ca_pem.clear();
  config->tls.ca_file = "/nonexistent/ca.crt";
  kube::RealClock clock;
  auto transport = kube::CpprestTransport::create(*config, clock);
  ASSERT_FALSE(transport.ok());
  EXPECT_THAT(transport.error().message, HasSubstr("cannot load the TLS files"));
}

TEST_F(KubeClientTest, DiscoveryPicksTheServedIstioVersion) {
  auto client = admin();
  ASSERT_TRUE(client);
  auto type = kube::discover_resource(*client->api, "security.istio.io", "peerauthentications",
                                      {"v1", "v1beta1"});
  ASSERT_TRUE(type.ok()) << type.error().message();
  ASSERT_TRUE(type->has_value());
  EXPECT_EQ((*type)->version, "v1");
  EXPECT_EQ((*type)->kind, "PeerAuthentication");
  auto absent = kube::discover_resource(*client->api, "nothing.example.com", "things", {"v1"});
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());
}

// Events bypass kube-apiserver's watch cache (its default), so a watch from a resourceVersion
// that etcd compacted away is refused by etcd itself: 410 Gone, every time.
TEST_F(KubeClientTest, AWatchFromACompactedResourceVersionIsGone) {
  auto client = admin();
  ASSERT_TRUE(client);
  json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"name", "before-compaction"}}},
      {"involvedObject", {{"kind", "ConfigMap"}, {"name", "x"}, {"namespace", test_namespace()}}},
      {"reason", "Test"},
      {"message", "m"}};
  auto created = client->api->create(kube::resources::kEvents, test_namespace(), event);
  ASSERT_TRUE(created.ok()) << created.error().message();
  // Two more writes: etcd refuses a watch only from before the compaction revision, and a
  // watch from resourceVersion R starts at R + 1.
  ASSERT_TRUE(client->api->create(kConfigMaps, test_namespace(), config_map("later", {})).ok());
  ASSERT_TRUE(
      client->api->create(kConfigMaps, test_namespace(), config_map("later-still", {})).ok());
  ASSERT_TRUE(command_succeeded(run_command(
      {"/bin/bash", std::string(MESHPROBE_SOURCE_DIR) + "/e2e/tests/kube/compact_etcd.sh",
       cluster().state_directory},
      "", std::chrono::seconds(60))));
  kube::WatchOptions options;
  options.resource_version = (*created)["metadata"]["resourceVersion"];
  options.timeout_seconds = 5;
  auto watch = client->api->watch(kube::resources::kEvents, test_namespace(), options);
  // The server refuses the request, or (as it does) accepts it and sends an ERROR event.
  if (watch.ok()) {
    auto next = watch.value()->next();
    ASSERT_FALSE(next.ok());
    EXPECT_TRUE(next.error().is(ApiErrorKind::kGone)) << next.error().message();
  } else {
    EXPECT_TRUE(watch.error().is(ApiErrorKind::kGone)) << watch.error().message();
  }
}

}  // namespace
}  // namespace meshprobe::e2e
