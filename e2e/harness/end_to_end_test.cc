#include "harness/end_to_end_test.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

namespace meshprobe::e2e {
namespace {

constexpr std::chrono::seconds kNamespaceReadyTimeout{60};
constexpr const char* kFieldManager = "meshprobe-e2e";

// A DNS label from the test's name and a random suffix, so reruns never meet a namespace that
// is still terminating: "e2e-<suite>-<test>-<5 random characters>", at most 63 characters.
std::string namespace_for(const ::testing::TestInfo& test) {
  std::string readable;
  for (char character : std::string(test.test_suite_name()) + "-" + test.name()) {
    char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(character)));
    bool allowed = std::isalnum(static_cast<unsigned char>(lower)) != 0;
    if (allowed) {
      readable += lower;
    } else if (!readable.empty() && readable.back() != '-') {
      readable += '-';
    }
  }
  readable = readable.substr(0, 52);
  while (!readable.empty() && readable.back() == '-') readable.pop_back();
  static const std::string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device random;
  std::string suffix;
  for (int i = 0; i < 5; ++i) suffix += alphabet[random() % alphabet.size()];
  return "e2e-" + readable + "-" + suffix;
}

std::string trimmed(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

}  // namespace

void EndToEndTest::SetUp() {
  auto cluster = Cluster::from_environment();
  ASSERT_TRUE(cluster.ok()) << cluster.error().message;
  cluster_ = std::move(cluster).value();
  kubectl_.emplace(cluster_->kubectl, cluster_->admin_kubeconfig);

  std::string name = namespace_for(*::testing::UnitTest::GetInstance()->current_test_info());
  ASSERT_TRUE(command_succeeded(kubectl_->run({"create", "namespace", name})));
  namespace_ = name;
  // Pods cannot be created before the service-account controller made "default".
  ASSERT_TRUE(
      eventually("ServiceAccount default in namespace " + namespace_, kNamespaceReadyTimeout, [&] {
        return kubectl_->run({"get", "serviceaccount", "default", "--namespace", namespace_})
            .succeeded();
      }));
}

void EndToEndTest::TearDown() {
  if (namespace_.empty()) return;
  if (HasFailure()) {
    CommandResult events = kubectl_->run(
        {"get", "events", "--namespace", namespace_, "--sort-by=.metadata.creationTimestamp"});
    std::cerr << "Events in " << namespace_ << ":\n"
              << events.standard_output << events.standard_error
              << "Component logs: " << cluster_->log_directory << "\n";
  }
  EXPECT_TRUE(
      command_succeeded(kubectl_->run({"delete", "namespace", namespace_, "--wait=false"})));
}

::testing::AssertionResult EndToEndTest::apply(std::string_view yaml) const {
  return command_succeeded(
      kubectl_->run({"apply", "--server-side", "--field-manager", kFieldManager, "--namespace",
                     namespace_, "--filename", "-"},
                    yaml));
}

Result<std::string> EndToEndTest::service_account_kubeconfig(
    const std::string& name, const std::vector<PolicyRule>& rules) const {
  nlohmann::json role_rules = nlohmann::json::array();
  for (const auto& rule : rules) {
    role_rules.push_back(
        {{"apiGroups", rule.api_groups}, {"resources", rule.resources}, {"verbs", rule.verbs}});
  }
  nlohmann::json objects = {
      {"apiVersion", "v1"},
      {"kind", "List"},
      {"items",
       {{{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", name}}}},
        {{"apiVersion", "rbac.authorization.k8s.io/v1"},
         {"kind", "Role"},
         {"metadata", {{"name", name}}},
         {"rules", role_rules}},
        {{"apiVersion", "rbac.authorization.k8s.io/v1"},
         {"kind", "RoleBinding"},
         {"metadata", {{"name", name}}},
         {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", name}}},
         {"subjects",
          {{{"kind", "ServiceAccount"}, {"name", name}, {"namespace", namespace_}}}}}}}};
  if (auto applied = apply(objects.dump()); !applied) return Error{applied.message()};
  return token_kubeconfig(namespace_, name);
}

Result<std::string> EndToEndTest::token_kubeconfig(const std::string& service_account_namespace,
                                                   const std::string& service_account) const {
  CommandResult token = kubectl_->run({"create", "token", service_account, "--namespace",
                                       service_account_namespace, "--duration=1h"});
  if (!token.succeeded()) return Error{command_succeeded(token).message()};

  namespace filesystem = std::filesystem;
  filesystem::path directory = filesystem::path(cluster_->state_directory) / "kubeconfigs";
  std::error_code error;
  filesystem::create_directories(directory, error);
  if (error) return Error{"cannot create " + directory.string() + ": " + error.message()};
  filesystem::path file =
      directory / (service_account_namespace + "." + service_account + ".kubeconfig");

  // JSON strings are YAML double-quoted scalars: every value is quoted safely.
  auto quoted = [](const std::string& value) { return nlohmann::json(value).dump(); };
  std::string user = "system:serviceaccount:" + service_account_namespace + ":" + service_account;
  std::ofstream out(file, std::ios::trunc);
  out << "apiVersion: v1\n"
      << "kind: Config\n"
      << "clusters:\n"
      << "- name: meshprobe-e2e\n"
      << "  cluster:\n"
      << "    server: " << quoted(cluster_->server) << "\n"
      << "    certificate-authority: " << quoted(cluster_->certificate_authority_file) << "\n"
      << "users:\n"
      << "- name: " << quoted(user) << "\n"
      << "  user:\n"
      << "    token: " << quoted(trimmed(token.standard_output)) << "\n"
      << "contexts:\n"
      << "- name: " << quoted(user) << "\n"
      << "  context:\n"
      << "    cluster: meshprobe-e2e\n"
      << "    user: " << quoted(user) << "\n"
      << "    namespace: " << quoted(service_account_namespace) << "\n"
      << "current-context: " << quoted(user) << "\n";
  out.close();
  if (!out) return Error{"cannot write " + file.string()};
  return file.string();
}

}  // namespace meshprobe::e2e
