#include "kube/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "kube/credentials.h"
#include "kube/fake_clock.h"

namespace meshprobe::kube {
namespace {

using ::testing::HasSubstr;

// A fresh directory per test for the files a kubeconfig names.
class ConfigTest : public ::testing::Test {
 protected:
  ConfigTest() {
    directory_ = std::filesystem::temp_directory_path() /
                 ("meshprobe-config-test-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(directory_);
  }
  ~ConfigTest() override { std::filesystem::remove_all(directory_); }

  std::string write(const std::string& name, const std::string& contents) {
    const auto path = directory_ / name;
    std::ofstream(path) << contents;
    return path.string();
  }

  std::filesystem::path directory_;
};

constexpr const char* kHeader = R"(apiVersion: v1
kind: Config
current-context: admin
contexts:
- name: admin
  context: {cluster: local, user: admin}
- name: reader
  context: {cluster: local, user: reader}
)";

TEST_F(ConfigTest, ClientCertificateFilesRelativeToTheKubeconfigAndCaFile) {
  const std::string path = write("config", std::string(kHeader) + R"(clusters:
- name: local
  cluster: {server: "https://127.0.0.1:6443/", certificate-authority: ca.crt}
users:
- name: admin
  user: {client-certificate: admin.crt, client-key: /abs/admin.key}
)");
  auto config = load_kubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->server, "https://127.0.0.1:6443");
  EXPECT_EQ(config->tls.ca_file, (directory_ / "ca.crt").string());
  EXPECT_EQ(config->tls.ca_description, "CA file " + (directory_ / "ca.crt").string());
  EXPECT_EQ(config->tls.client_certificate_file, (directory_ / "admin.crt").string());
  EXPECT_EQ(config->tls.client_key_file, "/abs/admin.key");
  EXPECT_FALSE(config->tls.insecure_skip_verify);
  EXPECT_THAT(config->source, HasSubstr("(context admin)"));
}

TEST_F(ConfigTest, EmbeddedDataIsDecoded) {
  // "CA PEM", "CERT", "KEY" in base64.
  const std::string path = write("config", std::string(kHeader) + R"(clusters:
- name: local
  cluster: {server: "https://k:6443", certificate-authority-data: Q0EgUEVN}
users:
- name: admin
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
)");
  auto config = load_kubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->tls.ca_pem, "CA PEM");
  EXPECT_EQ(config->tls.client_certificate_pem, "CERT");
  EXPECT_EQ(config->tls.client_key_pem, "KEY");
  EXPECT_THAT(config->tls.ca_description,
              HasSubstr("certificate-authority-data of cluster \"local\""));
}

TEST_F(ConfigTest, TokenAndTokenFileOfAnotherContext) {
  const std::string path = write("config", std::string(kHeader) + R"(clusters:
- name: local
  cluster: {server: "https://k:6443", insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: abc}
- name: reader
  user: {tokenFile: token}
)");
  auto admin = load_kubeconfig(path);
  ASSERT_TRUE(admin.ok()) << admin.error().message;
  EXPECT_EQ(admin->bearer_token, "abc");
  EXPECT_TRUE(admin->tls.insecure_skip_verify);
  auto reader = load_kubeconfig(path, "reader");
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  EXPECT_EQ(reader->bearer_token_file, (directory_ / "token").string());
}

struct BadCase {
  std::string name;
  std::string body;
  std::string expected;
};

TEST_F(ConfigTest, BadKubeconfigsGetOneClearError) {
  const std::vector<BadCase> cases = {
      {"not yaml", "a: [", "is not valid YAML"},
      {"no context", "apiVersion: v1\nclusters: []\n", "no current-context"},
      {"missing context", "current-context: x\ncontexts: []\n", "context \"x\" not found"},
      {"missing cluster", std::string(kHeader), "cluster \"local\" of context \"admin\" not found"},
      {"http",
       std::string(kHeader) + "clusters:\n- name: local\n  cluster: {server: "
                              "\"http://k\"}\nusers:\n- name: admin\n  user: {}\n",
       "is not an https:// URL"},
      {"ca and insecure",
       std::string(kHeader) +
           "clusters:\n- name: local\n  cluster: {server: \"https://k\", certificate-authority: c, "
           "insecure-skip-tls-verify: true}\nusers:\n- name: admin\n  user: {}\n",
       "both a certificate authority and insecure-skip-tls-verify"},
      {"bad base64",
       std::string(kHeader) +
           "clusters:\n- name: local\n  cluster: {server: \"https://k\", "
           "certificate-authority-data: \"!!\"}\nusers:\n- name: admin\n  user: {}\n",
       "is not base64"},
      {"exec plugin",
       std::string(kHeader) +
           "clusters:\n- name: local\n  cluster: {server: \"https://k\"}\nusers:\n- name: admin\n  "
           "user: {exec: {command: aws}}\n",
       "exec or auth-provider plugin"},
      {"certificate without key",
       std::string(kHeader) +
           "clusters:\n- name: local\n  cluster: {server: \"https://k\"}\nusers:\n- name: admin\n  "
           "user: {client-certificate: a.crt}\n",
       "without its key"},
  };
  for (const auto& c : cases) {
    const std::string path = write("config", c.body);
    auto config = load_kubeconfig(path);
    ASSERT_FALSE(config.ok()) << c.name;
    EXPECT_THAT(config.error().message, HasSubstr(c.expected)) << c.name;
    EXPECT_THAT(config.error().message, HasSubstr(path)) << c.name;
  }
  EXPECT_THAT(load_kubeconfig((directory_ / "absent").string()).error().message,
              HasSubstr("cannot read kubeconfig"));
}

EnvironmentLookup environment_of(std::map<std::string, std::string> variables) {
  return [variables](const std::string& name) -> std::optional<std::string> {
    auto found = variables.find(name);
    if (found == variables.end()) return std::nullopt;
    return found->second;
  };
}

TEST_F(ConfigTest, InClusterUsesTheServiceAccountFilesAndServiceAddress) {
  write("token", "t1\n");
  write("ca.crt", "PEM");
  auto config = load_in_cluster(
      environment_of({{"KUBERNETES_SERVICE_HOST", "10.0.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}}),
      directory_.string());
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->server, "https://10.0.0.1:443");
  EXPECT_EQ(config->bearer_token_file, (directory_ / "token").string());
  EXPECT_EQ(config->tls.ca_file, (directory_ / "ca.crt").string());
  auto ipv6 = load_in_cluster(
      environment_of({{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT", "443"}}),
      directory_.string());
  EXPECT_EQ(ipv6->server, "https://[fd00::1]:443");
}

TEST_F(ConfigTest, InClusterFailsClearlyOutsideAPod) {
  EXPECT_THAT(load_in_cluster(environment_of({}), directory_.string()).error().message,
              HasSubstr("KUBERNETES_SERVICE_HOST"));
  EXPECT_THAT(load_in_cluster(environment_of({{"KUBERNETES_SERVICE_HOST", "h"},
                                              {"KUBERNETES_SERVICE_PORT", "1"}}),
                              directory_.string())
                  .error()
                  .message,
              HasSubstr("cannot read service account token"));
}

TEST_F(ConfigTest, ResolveOrderIsFlagThenFirstKubeconfigFileThenInCluster) {
  const std::string first = write("first", std::string(kHeader) + R"(clusters:
- name: local
  cluster: {server: "https://first:6443"}
users:
- name: admin
  user: {token: a}
)");
  const std::string flag = write("flag", std::string(kHeader) + R"(clusters:
- name: local
  cluster: {server: "https://flag:6443"}
users:
- name: admin
  user: {token: a}
)");
  auto environment = environment_of(
      {{"KUBECONFIG", first + ":/does/not/matter"}, {"KUBERNETES_SERVICE_HOST", "10.0.0.1"}});
  EXPECT_EQ(resolve_rest_config(flag, "", environment)->server, "https://flag:6443");
  EXPECT_EQ(resolve_rest_config("", "", environment)->server, "https://first:6443");
  EXPECT_THAT(resolve_rest_config("", "", environment_of({})).error().message,
              HasSubstr("no Kubernetes configuration"));
}

TEST(Base64Test, DecodesStandardBase64AndRejectsOtherText) {
  EXPECT_EQ(*decode_base64("aGVsbG8="), "hello");
  EXPECT_EQ(*decode_base64("aGVs\nbG8h"), "hello!");
  EXPECT_EQ(*decode_base64(""), "");
  EXPECT_FALSE(decode_base64("aGVsbG8").ok());
  EXPECT_FALSE(decode_base64("a=bc").ok());
  EXPECT_FALSE(decode_base64("a$==").ok());
}

TEST_F(ConfigTest, ARotatedTokenFileIsPickedUpWithinAMinuteOrAfterA401) {
  FakeClock clock;
  const std::string path = write("token", "first\n");
  BearerToken token("", path, clock);
  EXPECT_EQ(*token.current(), "first");
  write("token", "second");
  clock.advance(std::chrono::seconds(59));
  EXPECT_EQ(*token.current(), "first") << "cached for a minute";
  clock.advance(std::chrono::seconds(1));
  EXPECT_EQ(*token.current(), "second");
  write("token", "third");
  token.invalidate();
  EXPECT_EQ(*token.current(), "third");
  std::filesystem::remove(path);
  token.invalidate();
  EXPECT_EQ(*token.current(), "third") << "the last good token while the file is replaced";
  BearerToken missing("", (directory_ / "none").string(), clock);
  EXPECT_THAT(missing.current().error().message, HasSubstr("cannot read token file"));
  BearerToken fixed("abc", "", clock);
  EXPECT_EQ(*fixed.current(), "abc");
}

}  // namespace
}  // namespace meshprobe::kube
