#include "cmd/inject.h"

#include <gtest/gtest.h>

#include "cmd/yaml_documents.h"
#include "probe/names.h"

namespace meshprobe::cmd {
namespace {

using nlohmann::json;

const InjectOptions kRewrite{false, {"agent:1", probe::kDefaultAgentPort}};
const InjectOptions kRestore{true, {"agent:1", probe::kDefaultAgentPort}};

InjectOutput injected(const std::string& input, const InjectOptions& options = kRewrite) {
  auto output = inject(input, options);
  EXPECT_TRUE(output.ok()) << (output.ok() ? "" : output.error().message);
  return output.ok() ? *output : InjectOutput{};
}

// A pod spec ("spec:" and below) indented by `indent` spaces.
std::string pod_spec(int indent) {
  const std::string lines[] = {"spec:",
                               "  containers:",
                               "  - name: web",
                               "    image: web:1",
                               "    ports:",
                               "    - name: http",
                               "      containerPort: 8080",
                               "    livenessProbe:",
                               "      httpGet: {path: /healthz, port: http}"};
  std::string out;
  for (const auto& line : lines) out += std::string(indent, ' ') + line + "\n";
  return out;
}

std::string workload(const std::string& api_version, const std::string& kind) {
  return "apiVersion: " + api_version + "\nkind: " + kind +
         "\nmetadata:\n  name: w\nspec:\n  template:\n" + pod_spec(4);
}

// `text` as the first item of a list at indent 0.
std::string as_list_item(const std::string& text) {
  std::string out = "- ";
  for (std::size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    if (text[i] == '\n' && i + 1 < text.size()) out += "  ";
  }
  return out;
}

TEST(Inject, EveryKindWithAPodTemplate) {
  struct Case {
    std::string manifest;
    std::string pointer;  // to the rewritten container
  };
  const std::vector<Case> cases = {
      {workload("apps/v1", "Deployment"), "/spec/template/spec/containers/0"},
      {workload("apps/v1", "StatefulSet"), "/spec/template/spec/containers/0"},
      {workload("apps/v1", "DaemonSet"), "/spec/template/spec/containers/0"},
      {workload("apps/v1", "ReplicaSet"), "/spec/template/spec/containers/0"},
      {workload("v1", "ReplicationController"), "/spec/template/spec/containers/0"},
      {workload("batch/v1", "Job"), "/spec/template/spec/containers/0"},
      {"apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  schedule: '* * * * *'\n "
       " jobTemplate:\n"
       "    spec:\n      template:\n" +
           pod_spec(8),
       "/spec/jobTemplate/spec/template/spec/containers/0"},
      {"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n" + pod_spec(0), "/spec/containers/0"},
      {"apiVersion: v1\nkind: PodTemplate\nmetadata:\n  name: t\ntemplate:\n" + pod_spec(2),
       "/template/spec/containers/0"},
      {"apiVersion: v1\nkind: List\nitems:\n" + as_list_item(workload("apps/v1", "Deployment")),
       "/items/0/spec/template/spec/containers/0"},
  };
  for (const auto& test : cases) {
    SCOPED_TRACE(test.manifest);
    auto output = injected(test.manifest);
    auto docs = yaml_documents(output.manifests);
    ASSERT_EQ(docs.size(), 1u);
    const json& container = docs[0][json::json_pointer(test.pointer)];
    EXPECT_EQ(container["livenessProbe"]["httpGet"]["path"], "/app-health/web/livez");
    EXPECT_EQ(container["livenessProbe"]["httpGet"]["port"], probe::kDefaultAgentPort);
    EXPECT_EQ(yaml_documents(injected(output.manifests, kRestore).manifests),
              yaml_documents(test.manifest));
  }
}

TEST(Inject, OtherDocumentsPassThroughByteForByteAndInOrder) {
  const std::string service =
      "# the service\napiVersion: v1\nkind: Service\nmetadata:\n  name: web  # inline\n"
      "spec:\n  ports:\n  - port: 80\n    targetPort: '8080'\n";
  const std::string config =
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  on: yes\n  v: \"1.10\"\n";
  const std::string crd_like =
      "apiVersion: example.com/v1\nkind: Deployment\nmetadata: {name: not-apps}\nspec:\n  "
      "template:\n" +
      pod_spec(4);
  const std::string input = service + "---\n" + workload("apps/v1", "Deployment") +
                            "--- # comment\n" + config + "---\n" + crd_like;
  auto output = injected(input);
  const auto& text = output.manifests;
  EXPECT_EQ(text.find(service), 0u) << text;
  EXPECT_NE(text.find("---\n" + config + "---\n" + crd_like), std::string::npos) << text;
  auto docs = yaml_documents(text);
  ASSERT_EQ(docs.size(), 4u);
  EXPECT_EQ(docs[1]["kind"], "Deployment");
  EXPECT_TRUE(docs[1]["spec"]["template"]["spec"].contains("initContainers"));
  EXPECT_TRUE(output.warnings.empty());
}

TEST(Inject, RewrittenDocumentsKeepTypes) {
  const std::string input = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: typed
  labels: {version: "1.10", enabled: "true", port: "8001"}
  annotations: {mode: "0755"}
spec:
  replicas: 3
  selector: {matchLabels: {app: typed}}
  template:
    metadata:
      labels: {app: typed, version: "1.10"}
    spec:
      terminationGracePeriodSeconds: 45
      containers:
      - name: web
        image: web:1
        env:
        - {name: FLAG, value: "yes"}
        - {name: NUMBER, value: "8001"}
        - {name: SCRIPT, value: "echo a\necho b\n"}
        readinessProbe:
          tcpSocket: {port: 8001}
          periodSeconds: 3
)";
  auto output = injected(input);
  auto rewritten = yaml_documents(output.manifests);
  ASSERT_EQ(rewritten.size(), 1u);
  const json& metadata = rewritten[0]["metadata"];
  EXPECT_EQ(metadata["labels"],
            json::parse(R"({"version":"1.10","enabled":"true","port":"8001"})"));
  EXPECT_EQ(metadata["annotations"]["mode"], "0755");
  EXPECT_EQ(rewritten[0]["spec"]["replicas"], 3);
  const json& env = rewritten[0]["spec"]["template"]["spec"]["containers"][0]["env"];
  EXPECT_EQ(env[0]["value"], "yes");
  EXPECT_EQ(env[1]["value"], "8001");
  EXPECT_EQ(env[2]["value"], "echo a\necho b\n");
  EXPECT_EQ(yaml_documents(injected(output.manifests, kRestore).manifests), yaml_documents(input));
}

TEST(Inject, AgentImageAndPortComeFromTheOptions) {
  auto output =
      injected(workload("apps/v1", "Deployment"), {false, {"example.org/agent:9", 16001}});
  auto doc = yaml_documents(output.manifests)[0];
  const json& agent = doc["spec"]["template"]["spec"]["initContainers"][0];
  EXPECT_EQ(agent["image"], "example.org/agent:9");
  EXPECT_EQ(agent["ports"][0]["containerPort"], 16001);
  EXPECT_EQ(doc["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"],
            16001);
}

TEST(Inject, ProbesThatCannotBeRewrittenAreLeftAndReported) {
  const std::string input =
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w, namespace: shop}\nspec:\n"
      "  template:\n    spec:\n      containers:\n      - name: web\n"
      "        livenessProbe: {httpGet: {port: missing}}\n"
      "        readinessProbe: {tcpSocket: {host: db.example, port: 5432}}\n";
  auto output = injected(input);
  EXPECT_EQ(output.manifests, input);
  ASSERT_EQ(output.warnings.size(), 2u);
  EXPECT_EQ(output.warnings[0],
            "document 1 (Deployment shop/w, line 1): "
            "spec.template.spec.containers[0].livenessProbe left as it was: "
            "named port \"missing\" is not declared in the ports of container \"web\"");
  EXPECT_NE(output.warnings[1].find(
                "spec.template.spec.containers[0].readinessProbe left as it was: tcpSocket.host "
                "\"db.example\" is not the pod itself"),
            std::string::npos);
}

TEST(Inject, TheTemplateAnnotationIsHonouredAndTheDeploymentsIgnored) {
  std::string disabled = workload("apps/v1", "Deployment");
  disabled.insert(
      disabled.find("    spec:"),
      "    metadata:\n      annotations: {sidecar.istio.io/rewriteAppHTTPProbers: \"false\"}\n");
  auto output = injected(disabled);
  EXPECT_EQ(output.manifests, disabled);
  ASSERT_EQ(output.warnings.size(), 1u);
  EXPECT_NE(
      output.warnings[0].find("not rewritten: rewriting is off by the pod template's annotation"),
      std::string::npos);

  std::string misplaced = workload("apps/v1", "Deployment");
  misplaced.insert(misplaced.find("  name: w") + 10,
                   "  annotations: {sidecar.istio.io/rewriteAppHTTPProbers: \"false\"}\n");
  output = injected(misplaced);
  EXPECT_NE(output.manifests, misplaced);
  ASSERT_EQ(output.warnings.size(), 1u);
  EXPECT_NE(output.warnings[0].find("the Deployment's own annotation"), std::string::npos)
      << output.warnings[0];
}

TEST(Inject, BadInputIsOneMessageNamingDocumentAndField) {
  const std::string good = workload("apps/v1", "Deployment") + "---\n";
  auto two_actions = workload("apps/v1", "Deployment");
  two_actions.replace(two_actions.find("httpGet: {path: /healthz, port: http}"), 37,
                      "httpGet: {path: /healthz, port: http}\n          exec: {command: [true]}");
  auto out_of_range = workload("apps/v1", "Deployment");
  out_of_range.replace(out_of_range.find("port: http}"), 11, "port: 70000}");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {good + "a: [1, 2\n", "document 2: line 18, column 1: end of sequence flow not found"},
      {good + "- just\n- a list\n",
       "document 2 (line 17): must be a mapping (a Kubernetes object), got a list"},
      {good + "hello\n",
       "document 2 (line 17): must be a mapping (a Kubernetes object), got the scalar \"hello\""},
      {good + two_actions,
       "document 2 (Deployment w, line 17): spec.template.spec.containers[0].livenessProbe: "
       "has more than one action: exec and httpGet"},
      {good + out_of_range,
       "document 2 (Deployment w, line 17): spec.template.spec.containers[0].livenessProbe: "
       "httpGet.port must be in 1..65535, got 70000"},
      {"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: []}\n",
       "document 1 (Deployment d, line 1): spec.template: must be a pod template (an object)"},
      {"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: {}\n",
       "document 1 (Pod p, line 1): spec.containers: must be a list"},
      {"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, name: e}\n",
       "document 1 (Deployment, line 1): metadata: duplicate key \"name\""},
      // Found by cmd_inject_fuzzer: inject terminated (nlohmann::json threw writing these bytes).
      {"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: w, image: "
       "\"w\xff\"}\n",
       "document 1 (Pod, line 1): spec.containers[0].image: not valid UTF-8 text"},
  };
  for (const auto& [input, error] : cases) {
    auto output = inject(input, kRewrite);
    ASSERT_FALSE(output.ok()) << input;
    EXPECT_EQ(output.error().message, error);
  }
}

TEST(Inject, EmptyAndCommentOnlyDocumentsAndCrlf) {
  const std::string input =
      "---\n# only a comment\n---\n\n---\r\n" + workload("apps/v1", "Deployment");
  auto output = injected(input);
  // The comment survives; YAML readers (kubectl too) see one document.
  EXPECT_EQ(output.manifests.find("# only a comment\n---\n"), 0u);
  auto docs = yaml_documents(output.manifests);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0]["kind"], "Deployment");
  EXPECT_TRUE(injected("").manifests.empty());
}

TEST(Inject, RestoreOfAnUntouchedManifestChangesNothing) {
  const std::string input = workload("apps/v1", "Deployment");
  EXPECT_EQ(injected(input, kRestore).manifests, input);
}

}  // namespace
}  // namespace meshprobe::cmd
