#include "probe/rewrite.h"

#include <gtest/gtest.h>

#include "probe/names.h"

namespace meshprobe::probe {
namespace {

using nlohmann::json;

const AgentConfig kAgent{"registry.example/meshprobe-agent:1.0", 15120};

// A pod template with one container "web" that has `probes` merged into it.
json template_with(const json& probes = json::object(),
                   const json& ports = json::array({{{"name", "http"}, {"containerPort", 8080}}})) {
  json container = {{"name", "web"}, {"image", "web:1"}, {"ports", ports}};
  container.update(probes);
  return {{"metadata", {{"labels", {{"app", "web"}}}}}, {"spec", {{"containers", {container}}}}};
}

RewriteResult rewritten(const json& pod_template, const RewriteScope& scope = {}) {
  auto result = rewrite(pod_template, kAgent, scope);
  EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
  return result.ok() ? std::move(result).value() : RewriteResult{};
}

RewriteResult restored(const json& pod_template) {
  auto result = restore(pod_template, kAgent.port);
  EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
  return result.ok() ? std::move(result).value() : RewriteResult{};
}

const json& web(const RewriteResult& result) {
  return result.pod_template["spec"]["containers"][0];
}
const json& agent_of(const RewriteResult& result) {
  return result.pod_template["spec"]["initContainers"][0];
}

AppProbers agent_probers(const json& agent) {
  for (const auto& variable : agent["env"]) {
    if (variable["name"] == kAppProbersEnvName) {
      auto parsed = parse_app_probers(variable["value"].get<std::string>());
      EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message);
      return parsed.ok() ? *parsed : AppProbers{};
    }
  }
  ADD_FAILURE() << "no " << kAppProbersEnvName << " in " << agent.dump();
  return {};
}

struct SlotCase {
  const char* field;  // JSON pointer inside the container
  const char* path;   // the agent path
  json probe;         // what goes at `field`
  json expected;      // the rewritten probe
  AppProber prober;   // what the agent gets
};

TEST(Rewrite, EachKindInEachSlot) {
  const json timing = {{"initialDelaySeconds", 5},
                       {"periodSeconds", 7},
                       {"timeoutSeconds", 3},
                       {"failureThreshold", 4},
                       {"successThreshold", 1}};
  auto with_timing = [&](json probe) {
    probe.update(timing);
    return probe;
  };
  const std::vector<SlotCase> cases = {
      {"/livenessProbe",
       "/app-health/web/livez",
       with_timing({{"httpGet", {{"path", "/foo"}, {"port", 8001}}}}),
       with_timing(
           {{"httpGet", {{"path", "/app-health/web/livez"}, {"port", 15120}, {"scheme", "HTTP"}}}}),
       {HttpGetAction{"", 8001, "/foo", "HTTP", {}}, 3}},
      {"/readinessProbe",
       "/app-health/web/readyz",
       with_timing({{"tcpSocket", {{"port", 8001}}}}),
       with_timing({{"httpGet",
                     {{"path", "/app-health/web/readyz"}, {"port", 15120}, {"scheme", "HTTP"}}}}),
       {TcpSocketAction{"", 8001}, 3}},
      {"/startupProbe",
       "/app-health/web/startupz",
       with_timing({{"grpc", {{"port", 9090}}}}),
       with_timing({{"httpGet",
                     {{"path", "/app-health/web/startupz"}, {"port", 15120}, {"scheme", "HTTP"}}}}),
       {GrpcAction{9090, std::nullopt}, 3}},
      {"/livenessProbe",
       "/app-health/web/livez",
       {{"grpc", {{"port", 9090}, {"service", "health"}}}},
       // The API server's defaults are written out.
       {{"httpGet", {{"path", "/app-health/web/livez"}, {"port", 15120}, {"scheme", "HTTP"}}},
        {"timeoutSeconds", 1},
        {"periodSeconds", 10},
        {"successThreshold", 1},
        {"failureThreshold", 3}},
       {GrpcAction{9090, "health"}, 1}},
      {"/lifecycle/preStop",
       "/app-lifecycle/web/prestopz",
       {{"httpGet", {{"path", "/drain"}, {"port", 8080}}}},
       {{"httpGet",
         {{"path", "/app-lifecycle/web/prestopz"}, {"port", 15120}, {"scheme", "HTTP"}}}},
       {HttpGetAction{"", 8080, "/drain", "HTTP", {}}, 30}},
      {"/lifecycle/postStart",
       "/app-lifecycle/web/poststartz",
       {{"tcpSocket", {{"port", "http"}}}},
       {{"httpGet",
         {{"path", "/app-lifecycle/web/poststartz"}, {"port", 15120}, {"scheme", "HTTP"}}}},
       {TcpSocketAction{"", 8080}, 30}},
  };
  for (const auto& test : cases) {
    SCOPED_TRACE(std::string(test.field) + " " + test.probe.dump());
    json pod_template = template_with();
    pod_template["spec"]["containers"][0][json::json_pointer(test.field)] = test.probe;
    auto result = rewritten(pod_template);
    EXPECT_EQ(web(result)[json::json_pointer(test.field)], test.expected);
    EXPECT_EQ(agent_probers(agent_of(result)), (AppProbers{{test.path, test.prober}}));
    ASSERT_EQ(result.probes.size(), 1u);
    EXPECT_EQ(result.probes[0].outcome, ProbeOutcome::kRewritten);
    EXPECT_EQ(result.probes[0].after, "httpGet :15120" + std::string(test.path));
    EXPECT_EQ(restored(result.pod_template).pod_template, pod_template);
  }
}

TEST(Rewrite, HttpsBecomesHttpAndHeadersTimingAndQueryAreKept) {
  const json probe = {
      {"httpGet",
       {{"path", "/health?verbose=1&x=%20"},
        {"port", 8443},
        {"scheme", "HTTPS"},
        {"httpHeaders",
         {{{"name", "Host"}, {"value", "web.local"}}, {{"name", "X-Probe"}, {"value", ""}}}}}},
      {"periodSeconds", 2},
      {"timeoutSeconds", 9},
      {"terminationGracePeriodSeconds", 12}};
  auto result = rewritten(template_with({{"livenessProbe", probe}}));
  const json expected = {{"httpGet",
                          {{"path", "/app-health/web/livez"},
                           {"port", 15120},
                           {"scheme", "HTTP"},
                           {"httpHeaders", probe["httpGet"]["httpHeaders"]}}},
                         {"periodSeconds", 2},
                         {"timeoutSeconds", 9},
                         {"terminationGracePeriodSeconds", 12},
                         {"successThreshold", 1},
                         {"failureThreshold", 3}};
  EXPECT_EQ(web(result)["livenessProbe"], expected);
  const AppProber prober{
      HttpGetAction{
          "", 8443, "/health?verbose=1&x=%20", "HTTPS", {{"Host", "web.local"}, {"X-Probe", ""}}},
      9};
  EXPECT_EQ(agent_probers(agent_of(result)), (AppProbers{{"/app-health/web/livez", prober}}));
  EXPECT_EQ(result.probes[0].before, "httpGet HTTPS :8443/health?verbose=1&x=%20");
}

TEST(Rewrite, PathWithoutLeadingSlashIsGivenOneForTheAgent) {
  for (const auto& [path, expected] :
       std::vector<std::pair<json, std::string>>{{"healthz", "/healthz"}, {"", "/"}}) {
    auto result = rewritten(
        template_with({{"livenessProbe", {{"httpGet", {{"path", path}, {"port", 80}}}}}}));
    auto probers = agent_probers(agent_of(result));
    EXPECT_EQ(std::get<HttpGetAction>(probers.at("/app-health/web/livez").action).path, expected);
  }
}

TEST(Rewrite, NamedPortsResolveAgainstTheirOwnContainer) {
  json pod_template = {
      {"spec",
       {{"containers",
         {{{"name", "web"},
           {"ports", {{{"name", "http"}, {"containerPort", 8080}}}},
           {"livenessProbe", {{"httpGet", {{"port", "http"}, {"path", "/l"}}}}}},
          {{"name", "api"},
           {"ports", {{{"name", "http"}, {"containerPort", 9000}}}},
           {"readinessProbe", {{"tcpSocket", {{"port", "http"}}}}}},
          {{"name", "batch"},
           {"ports", {{{"name", "metrics"}, {"containerPort", 9100}}}},
           {"livenessProbe", {{"httpGet", {{"port", "http"}, {"path", "/l"}}}}}}}}}}};
  auto result = rewritten(pod_template);
  auto probers = agent_probers(agent_of(result));
  EXPECT_EQ(std::get<HttpGetAction>(probers.at("/app-health/web/livez").action).port, 8080);
  EXPECT_EQ(std::get<TcpSocketAction>(probers.at("/app-health/api/readyz").action).port, 9000);
  EXPECT_FALSE(probers.count("/app-health/batch/livez"));
  ASSERT_EQ(result.probes.size(), 3u);
  EXPECT_EQ(result.probes[0].before, "httpGet :http=8080/l");
  EXPECT_EQ(result.probes[2].outcome, ProbeOutcome::kInvalid);
  EXPECT_EQ(result.probes[2].field, "spec.containers[2].livenessProbe");
  EXPECT_EQ(result.probes[2].reason,
            "named port \"http\" is not declared in the ports of container \"batch\"");
  // The unresolvable probe is left exactly as it was.
  EXPECT_EQ(result.pod_template["spec"]["containers"][2], pod_template["spec"]["containers"][2]);
  EXPECT_EQ(restored(result.pod_template).pod_template, pod_template);
}

TEST(Rewrite, ExecAndSleepAreNeverTouched) {
  const json pod_template =
      template_with({{"livenessProbe", {{"exec", {{"command", {"true"}}}}, {"periodSeconds", 3}}},
                     {"lifecycle",
                      {{"preStop", {{"sleep", {{"seconds", 5}}}}},
                       {"postStart", {{"exec", {{"command", {"ls"}}}}}}}}});
  auto result = rewritten(pod_template);
  EXPECT_EQ(result.pod_template, pod_template);
  EXPECT_FALSE(result.changed);
  ASSERT_EQ(result.probes.size(), 3u);
  for (const auto& report : result.probes) EXPECT_EQ(report.outcome, ProbeOutcome::kNotRewritable);
  EXPECT_EQ(result.probes[1].action, "sleep");
}

TEST(Rewrite, HostRules) {
  for (const char* host : {"", "localhost", "127.0.0.1", "::1"}) {
    SCOPED_TRACE(host);
    auto result = rewritten(
        template_with({{"livenessProbe", {{"httpGet", {{"host", host}, {"port", 8080}}}}},
                       {"readinessProbe", {{"tcpSocket", {{"host", host}, {"port", 8080}}}}}}));
    EXPECT_FALSE(web(result)["livenessProbe"]["httpGet"].contains("host"));
    EXPECT_FALSE(web(result)["readinessProbe"]["httpGet"].contains("host"));
    auto probers = agent_probers(agent_of(result));
    EXPECT_EQ(std::get<HttpGetAction>(probers.at("/app-health/web/livez").action).host, host);
    EXPECT_EQ(std::get<TcpSocketAction>(probers.at("/app-health/web/readyz").action).host, host);
  }
  for (const char* host : {"10.0.0.7", "example.com", "db.default.svc"}) {
    SCOPED_TRACE(host);
    const json pod_template =
        template_with({{"livenessProbe", {{"httpGet", {{"host", host}, {"port", 8080}}}}},
                       {"readinessProbe", {{"tcpSocket", {{"host", host}, {"port", 8080}}}}}});
    auto result = rewritten(pod_template);
    EXPECT_EQ(result.pod_template, pod_template);
    ASSERT_EQ(result.probes.size(), 2u);
    for (const auto& report : result.probes) {
      EXPECT_EQ(report.outcome, ProbeOutcome::kInvalid);
      EXPECT_NE(report.reason.find("is not the pod itself"), std::string::npos) << report.reason;
    }
  }
}

TEST(Rewrite, NativeSidecarInitContainersAreRewrittenOtherInitContainersNot) {
  const json pod_template = {
      {"spec",
       {{"initContainers",
         {{{"name", "migrate"}, {"image", "m"}},
          {{"name", "proxy"},
           {"restartPolicy", "Always"},
           {"startupProbe", {{"tcpSocket", {{"port", 7000}}}}}}}},
        {"containers", {{{"name", "web"}, {"livenessProbe", {{"httpGet", {{"port", 8080}}}}}}}}}}};
  auto result = rewritten(pod_template);
  const json& init = result.pod_template["spec"]["initContainers"];
  ASSERT_EQ(init.size(), 3u);
  EXPECT_EQ(init[0]["name"],
            kAgentContainerName);  // first, so it runs before the sidecars it serves
  EXPECT_EQ(init[2]["startupProbe"]["httpGet"]["path"], "/app-health/proxy/startupz");
  auto probers = agent_probers(init[0]);
  EXPECT_EQ(probers.size(), 2u);
  ASSERT_EQ(result.probes.size(), 2u);
  EXPECT_TRUE(result.probes[0].init_container);
  EXPECT_EQ(result.probes[0].field, "spec.initContainers[1].startupProbe");
  EXPECT_EQ(restored(result.pod_template).pod_template, pod_template);
}

TEST(Rewrite, SeveralContainersEachGetTheirOwnPaths) {
  json pod_template = {{"spec", {{"containers", json::array()}}}};
  for (const char* name : {"a", "b", "c"}) {
    pod_template["spec"]["containers"].push_back(
        {{"name", name},
         {"livenessProbe", {{"httpGet", {{"port", 80}, {"path", "/"}}}}},
         {"readinessProbe", {{"tcpSocket", {{"port", 81}}}}}});
  }
  auto result = rewritten(pod_template);
  auto probers = agent_probers(agent_of(result));
  EXPECT_EQ(probers.size(), 6u);
  for (const char* name : {"a", "b", "c"}) {
    EXPECT_TRUE(probers.count(std::string("/app-health/") + name + "/livez"));
    EXPECT_TRUE(probers.count(std::string("/app-health/") + name + "/readyz"));
  }
  EXPECT_EQ(result.count(ProbeOutcome::kRewritten), 6);
}

TEST(Rewrite, AgentContainer) {
  auto result = rewritten(template_with({{"livenessProbe", {{"httpGet", {{"port", 8080}}}}}}));
  const json& agent = agent_of(result);
  EXPECT_EQ(agent["name"], "meshprobe-agent");
  EXPECT_EQ(agent["image"], kAgent.image);
  EXPECT_EQ(agent["restartPolicy"], "Always");
  EXPECT_EQ(agent["args"], json({"--port", "15120"}));
  EXPECT_EQ(agent["ports"],
            json::parse(R"([{"name":"mp-health","containerPort":15120,"protocol":"TCP"}])"));
  EXPECT_EQ(
      agent["env"][1],
      json::parse(
          R"({"name":"POD_IP","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"status.podIP"}}})"));
  EXPECT_EQ(agent["securityContext"]["runAsUser"], 1337);
  EXPECT_EQ(agent["securityContext"]["runAsNonRoot"], true);
  EXPECT_EQ(agent["securityContext"]["readOnlyRootFilesystem"], true);
  EXPECT_EQ(agent["securityContext"]["allowPrivilegeEscalation"], false);
  EXPECT_EQ(agent["securityContext"]["capabilities"], json::parse(R"({"drop":["ALL"]})"));
  EXPECT_TRUE(agent["resources"]["requests"].contains("memory"));
  EXPECT_TRUE(agent["resources"]["limits"].contains("memory"));
  EXPECT_TRUE(is_rewritten(result.pod_template));
}

TEST(Rewrite, ConfiguredAgentPortIsUsedEverywhere) {
  const json pod_template = template_with({{"livenessProbe", {{"httpGet", {{"port", 8080}}}}}});
  auto result = rewrite(pod_template, {"img", 16000});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->pod_template["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"],
            16000);
  EXPECT_EQ(result->pod_template["spec"]["initContainers"][0]["ports"][0]["containerPort"], 16000);
  EXPECT_EQ(
      result->pod_template["metadata"]["annotations"][std::string(kExcludeInboundPortsAnnotation)],
      "16000");
  // Rewriting again with another port moves everything, and restore still finds its way back.
  auto moved = rewrite(result->pod_template, {"img", 17000});
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved->pod_template, rewrite(pod_template, {"img", 17000})->pod_template);
  EXPECT_EQ(restored(moved->pod_template).pod_template, pod_template);
}

TEST(Rewrite, ExcludeInboundPortsIsMergedAndRestoredExactly) {
  struct Case {
    std::optional<std::string> before;
    std::string after;
  };
  for (const auto& test : std::vector<Case>{{std::nullopt, "15120"},
                                            {"", "15120"},
                                            {"8080", "8080,15120"},
                                            {"8080, 9090", "8080, 9090,15120"},
                                            {"15120,8080", "15120,8080"}}) {
    SCOPED_TRACE(test.before.value_or("(absent)"));
    json pod_template = template_with({{"livenessProbe", {{"httpGet", {{"port", 8080}}}}}});
    if (test.before)
      pod_template["metadata"]["annotations"][std::string(kExcludeInboundPortsAnnotation)] =
          *test.before;
    auto result = rewritten(pod_template);
    EXPECT_EQ(
        result.pod_template["metadata"]["annotations"][std::string(kExcludeInboundPortsAnnotation)],
        test.after);
    EXPECT_EQ(restored(result.pod_template).pod_template, pod_template);
  }
}

TEST(Rewrite, ExcludeInboundPortsChangedSinceTheRewriteKeepsTheChange) {
  json pod_template = template_with({{"livenessProbe", {{"httpGet", {{"port", 8080}}}}}});
  pod_template["metadata"]["annotations"][std::string(kExcludeInboundPortsAnnotation)] = "8080";
  auto result = rewritten(pod_template);
  result.pod_template["metadata"]["annotations"][std::string(kExcludeInboundPortsAnnotation)] =
      "8080,15120,9999";
  auto back = restored(result.pod_template);
  EXPECT_EQ(
      back.pod_template["metadata"]["annotations"][std::string(kExcludeInboundPortsAnnotation)],
      "8080,9999");
}

TEST(Rewrite, AlreadyRewrittenInputIsAFixedPoint) {
  const json pod_template =
      template_with({{"livenessProbe", {{"httpGet", {{"port", 8080}, {"path", "/l"}}}}},
                     {"readinessProbe", {{"tcpSocket", {{"port", "http"}}}}}});
  auto once = rewritten(pod_template);
  auto twice = rewritten(once.pod_template);
  EXPECT_EQ(twice.pod_template, once.pod_template);
  EXPECT_FALSE(twice.changed);
  EXPECT_EQ(twice.probes, once.probes);
}

// What the API server does to a rewritten template: fill in the probe defaults. Reading that
// back must be a fixed point of rewrite(), and restore() must still give the original.
TEST(Rewrite, TemplateWithTheApiServersDefaultsIsAFixedPoint) {
  const json pod_template =
      template_with({{"livenessProbe", {{"httpGet", {{"port", 8080}, {"path", "/l"}}}}},
                     {"readinessProbe", {{"tcpSocket", {{"port", 8080}}}, {"periodSeconds", 5}}},
                     {"lifecycle", {{"preStop", {{"httpGet", {{"port", 8080}}}}}}}});
  auto once = rewritten(pod_template);
  json stored = once.pod_template;
  for (const char* slot : {"livenessProbe", "readinessProbe"}) {
    json& probe = stored["spec"]["containers"][0][slot];
    for (const auto& [field, value] : {std::pair{"timeoutSeconds", 1},
                                       {"periodSeconds", 10},
                                       {"successThreshold", 1},
                                       {"failureThreshold", 3}}) {
      if (!probe.contains(field)) probe[field] = value;
    }
    if (!probe["httpGet"].contains("scheme")) probe["httpGet"]["scheme"] = "HTTP";
  }
  EXPECT_EQ(stored, once.pod_template);  // nothing was missing
  EXPECT_EQ(rewritten(stored).pod_template, stored);
  EXPECT_EQ(restored(stored).pod_template, pod_template);
  // A default the user set on purpose in the original survives the round trip.
  json explicit_default = pod_template;
  explicit_default["spec"]["containers"][0]["livenessProbe"]["periodSeconds"] = 10;
  EXPECT_EQ(restored(rewritten(explicit_default).pod_template).pod_template, explicit_default);
}

TEST(Rewrite, FieldsOthersAddedToTheAgentAreKept) {
  auto once = rewritten(template_with({{"livenessProbe", {{"httpGet", {{"port", 8080}}}}}}));
  json mutated = once.pod_template;
  json& agent = mutated["spec"]["initContainers"][0];
  agent["volumeMounts"] = {{{"name", "kube-api-access"}, {"mountPath", "/var/run/secrets"}}};
  agent["securityContext"]["privileged"] = false;
  agent["image"] = "someone-else/agent:1";  // meshprobe's field: put back
  auto again = rewritten(mutated);
  json expected = mutated;
  expected["spec"]["initContainers"][0]["image"] = kAgent.image;
  EXPECT_EQ(again.pod_template, expected);
  EXPECT_EQ(restored(mutated).pod_template, restored(once.pod_template).pod_template);
}

TEST(Rewrite, NothingToRewriteAddsNothing) {
  const json pod_template = template_with();
  auto result = rewritten(pod_template);
  EXPECT_EQ(result.pod_template, pod_template);
  EXPECT_TRUE(result.probes.empty());
  EXPECT_FALSE(is_rewritten(pod_template));
}

TEST(Rewrite, TemplateWithoutMetadataOrAnnotationsComesBackWithout) {
  const json bare = {
      {"spec",
       {{"containers", {{{"name", "web"}, {"livenessProbe", {{"tcpSocket", {{"port", 1}}}}}}}}}}};
  auto result = rewritten(bare);
  EXPECT_TRUE(result.pod_template["metadata"]["annotations"].contains(
      std::string(kOriginalProbesAnnotation)));
  EXPECT_EQ(restored(result.pod_template).pod_template, bare);
  json empty_annotations = bare;
  empty_annotations["metadata"] = {{"annotations", json::object()}};
  EXPECT_EQ(restored(rewritten(empty_annotations).pod_template).pod_template, empty_annotations);
}

// A timing field written as null (`failureThreshold:` and nothing after it) is absent to the
// API server; the engine keeps it null both ways, also when someone nulls it after the rewrite.
TEST(Rewrite, NullTimingFieldsStayNull) {
  const json original = template_with(
      {{"startupProbe", {{"tcpSocket", {{"port", 9901}}}, {"failureThreshold", nullptr}}}});
  const auto result = rewritten(original);
  ASSERT_TRUE(is_rewritten(result.pod_template));
  EXPECT_EQ(restored(result.pod_template).pod_template, original);
  EXPECT_EQ(rewritten(result.pod_template).pod_template, result.pod_template);

  json nulled_later = result.pod_template;
  nulled_later["spec"]["containers"][0]["startupProbe"]["failureThreshold"] = nullptr;
  const auto again = rewritten(nulled_later);
  EXPECT_EQ(rewritten(again.pod_template).pod_template, again.pod_template);
  EXPECT_EQ(restored(again.pod_template).pod_template, restored(nulled_later).pod_template);
}

// `annotations:` with nothing under it (templated YAML often has it) is null, not absent; a
// manifest read back after restore must say the same.
TEST(Rewrite, NullMetadataAnnotationsAndInitContainersComeBackNull) {
  const json bare = {
      {"spec",
       {{"containers", {{{"name", "web"}, {"livenessProbe", {{"tcpSocket", {{"port", 1}}}}}}}}}}};
  json null_metadata = bare;
  null_metadata["metadata"] = nullptr;
  json null_annotations = bare;
  null_annotations["metadata"] = {{"labels", {{"app", "web"}}}, {"annotations", nullptr}};
  json null_init_containers = bare;
  null_init_containers["spec"]["initContainers"] = nullptr;
  for (const json& original : {null_metadata, null_annotations, null_init_containers}) {
    SCOPED_TRACE(original.dump());
    const auto result = rewritten(original);
    ASSERT_TRUE(is_rewritten(result.pod_template));
    EXPECT_EQ(restored(result.pod_template).pod_template, original);
    EXPECT_EQ(rewritten(result.pod_template).pod_template, result.pod_template);
  }
}

TEST(Rewrite, ScopeDecidesWhichProbesAreRewritten) {
  RewriteScope only_liveness_http;
  only_liveness_http.families = {ProbeFamily::kLiveness};
  only_liveness_http.protocols = {ProbeProtocol::kHttp};
  only_liveness_http.origin = "HealthProbePolicy shop/web";
  const json pod_template = template_with({{"livenessProbe", {{"httpGet", {{"port", 8080}}}}},
                                           {"readinessProbe", {{"httpGet", {{"port", 8080}}}}},
                                           {"startupProbe", {{"tcpSocket", {{"port", 8080}}}}}});
  auto result = rewritten(pod_template, only_liveness_http);
  ASSERT_EQ(result.probes.size(), 3u);
  EXPECT_EQ(result.probes[0].outcome, ProbeOutcome::kRewritten);
  EXPECT_EQ(result.probes[1].outcome, ProbeOutcome::kExcludedByPolicy);
  EXPECT_EQ(result.probes[1].reason, "HealthProbePolicy shop/web covers only liveness probes");
  EXPECT_EQ(result.probes[2].outcome, ProbeOutcome::kExcludedByPolicy);
  EXPECT_EQ(web(result)["readinessProbe"], pod_template["spec"]["containers"][0]["readinessProbe"]);
  // A rewrite with a narrower scope undoes what is now out of scope.
  auto everything = rewritten(pod_template);
  EXPECT_EQ(rewritten(everything.pod_template, only_liveness_http).pod_template,
            result.pod_template);
}

TEST(Rewrite, UserChangesAfterTheRewriteWin) {
  const json pod_template = template_with(
      {{"livenessProbe", {{"httpGet", {{"port", 8080}, {"path", "/l"}}}, {"periodSeconds", 10}}},
       {"readinessProbe", {{"httpGet", {{"port", 8080}, {"path", "/r"}}}}}});
  auto result = rewritten(pod_template);
  json edited = result.pod_template;
  // Someone puts their own readiness probe back and tunes the rewritten liveness probe's period.
  edited["spec"]["containers"][0]["readinessProbe"] = {
      {"httpGet", {{"port", 8080}, {"path", "/ready2"}}}};
  edited["spec"]["containers"][0]["livenessProbe"]["periodSeconds"] = 30;
  auto back = restored(edited);
  EXPECT_EQ(back.pod_template["spec"]["containers"][0]["readinessProbe"],
            edited["spec"]["containers"][0]["readinessProbe"]);
  EXPECT_EQ(back.pod_template["spec"]["containers"][0]["livenessProbe"],
            json::parse(R"({"httpGet":{"port":8080,"path":"/l"},"periodSeconds":30})"));
  ASSERT_EQ(back.probes.size(), 2u);
  EXPECT_EQ(back.probes[0].outcome, ProbeOutcome::kRestored);
  EXPECT_EQ(back.probes[1].outcome, ProbeOutcome::kUserChanged);
  // And rewrite() works from that view: the user's probe is rewritten as an original.
  auto again = rewritten(edited);
  EXPECT_EQ(again.pod_template, rewritten(back.pod_template).pod_template);
  auto probers = agent_probers(agent_of(again));
  EXPECT_EQ(std::get<HttpGetAction>(probers.at("/app-health/web/readyz").action).path, "/ready2");
}

TEST(Rewrite, PartlyRewrittenTemplateWithoutRecordIsRecoveredFromTheAgent) {
  const json pod_template = template_with(
      {{"livenessProbe", {{"httpGet", {{"port", "http"}, {"path", "/l"}, {"scheme", "HTTPS"}}}}},
       {"readinessProbe", {{"exec", {{"command", {"true"}}}}}}});
  auto result = rewritten(pod_template);
  json partial = result.pod_template;
  partial["metadata"]["annotations"].erase(std::string(kOriginalProbesAnnotation));
  auto back = restored(partial);
  ASSERT_EQ(back.probes.size(), 1u);
  EXPECT_EQ(back.probes[0].outcome, ProbeOutcome::kRestored);
  EXPECT_NE(back.probes[0].reason.find("recovered from the agent"), std::string::npos);
  // The named port comes back as its number.
  EXPECT_EQ(back.pod_template["spec"]["containers"][0]["livenessProbe"],
            json::parse(R"({"httpGet":{"port":8080,"path":"/l","scheme":"HTTPS"}})"));
  EXPECT_FALSE(is_rewritten(back.pod_template));
  EXPECT_EQ(back.pod_template["metadata"], pod_template["metadata"]);
}

TEST(Rewrite, ProbeOnTheAgentWithoutAnyOriginalIsReportedNotLost) {
  const json pod_template = template_with(
      {{"livenessProbe", {{"httpGet", {{"port", 15120}, {"path", "/app-health/web/livez"}}}}}});
  EXPECT_TRUE(is_rewritten(pod_template));
  auto back = restored(pod_template);
  EXPECT_EQ(back.pod_template, pod_template);
  ASSERT_EQ(back.probes.size(), 1u);
  EXPECT_EQ(back.probes[0].outcome, ProbeOutcome::kInvalid);
  auto result = rewritten(pod_template);
  EXPECT_EQ(result.pod_template, pod_template);
  EXPECT_EQ(result.probes[0].outcome, ProbeOutcome::kInvalid);
}

TEST(Rewrite, UnreadableRecordIsANoteNotAnError) {
  json pod_template = template_with({{"livenessProbe", {{"httpGet", {{"port", 8080}}}}}});
  pod_template["metadata"]["annotations"] = {{std::string(kOriginalProbesAnnotation), "{not json"}};
  auto back = restored(pod_template);
  ASSERT_EQ(back.notes.size(), 1u);
  EXPECT_FALSE(back.pod_template["metadata"].contains("annotations"));
}

TEST(Rewrite, AgentPortTakenByTheApplicationRefusesToRewrite) {
  const json pod_template = template_with({{"livenessProbe", {{"httpGet", {{"port", 8080}}}}}},
                                          {{{"containerPort", 15120}}});
  auto result = rewritten(pod_template);
  EXPECT_EQ(result.pod_template, pod_template);
  ASSERT_EQ(result.probes.size(), 1u);
  EXPECT_EQ(result.probes[0].outcome, ProbeOutcome::kInvalid);
  EXPECT_NE(result.probes[0].reason.find("configure another agent port"), std::string::npos);
}

TEST(Rewrite, MalformedProbesAreReportedAndLeftAlone) {
  struct Case {
    json probe;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {{{"httpGet", {{"port", 80}}}, {"exec", {{"command", {"x"}}}}},
       "has more than one action: exec and httpGet"},
      {{{"periodSeconds", 3}}, "has no action (needs one of exec or httpGet or tcpSocket or grpc)"},
      {{{"httpGet", {{"port", 70000}}}}, "httpGet.port must be in 1..65535, got 70000"},
      {{{"tcpSocket", {{"port", 0}}}}, "tcpSocket.port must be in 1..65535, got 0"},
      {{{"httpGet", {{"path", "/"}}}}, "httpGet.port is missing"},
      {{{"grpc", {{"port", "grpc"}}}}, "grpc.port must be a port number, got \"grpc\""},
      {{{"httpGet", {{"port", 80}, {"scheme", "FTP"}}}},
       "httpGet.scheme must be HTTP or HTTPS, got \"FTP\""},
      {{{"httpGet", {{"port", 80}}}, {"timeoutSeconds", "1s"}},
       "timeoutSeconds must be a non-negative integer, got \"1s\""},
      {"yes", "must be an object"},
  };
  for (const auto& test : cases) {
    SCOPED_TRACE(test.probe.dump());
    const json pod_template = template_with({{"livenessProbe", test.probe}});
    auto result = rewritten(pod_template);
    EXPECT_EQ(result.pod_template, pod_template);
    ASSERT_EQ(result.probes.size(), 1u);
    EXPECT_EQ(result.probes[0].outcome, ProbeOutcome::kMalformed);
    EXPECT_EQ(result.probes[0].reason, test.reason);
    EXPECT_EQ(result.probes[0].field, "spec.containers[0].livenessProbe");
  }
}

TEST(Rewrite, StructuralErrorsNameTheField) {
  struct Case {
    json pod_template;
    std::string error;
  };
  const std::vector<Case> cases = {
      {json::array(), "the pod template must be an object"},
      {{{"spec", 1}}, "spec: must be an object"},
      {{{"metadata", "x"}, {"spec", json::object()}}, "metadata: must be an object"},
      {{{"spec", {{"containers", {{"name", "x"}}}}}}, "spec.containers: must be a list"},
      {{{"spec", {{"containers", {1}}}}}, "spec.containers[0]: must be an object"},
      {{{"spec", {{"containers", {{{"name", "Web"}}}}}}},
       "spec.containers[0].name: must be a DNS label (lower-case letters, digits and '-'), got "
       "\"Web\""},
      {{{"spec", {{"initContainers", {{{"name", "a"}}}}, {"containers", {{{"name", "a"}}}}}}},
       "spec.containers[0].name: \"a\" is the name of another container too"},
      {{{"spec", {{"containers", {{{"name", "meshprobe-agent"}}}}}}},
       "spec.containers[0].name: \"meshprobe-agent\" is reserved for meshprobe's agent; rename "
       "this container"},
  };
  for (const auto& test : cases) {
    SCOPED_TRACE(test.pod_template.dump());
    auto result = rewrite(test.pod_template, kAgent);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().message, test.error);
    EXPECT_FALSE(restore(test.pod_template).ok());
  }
}

TEST(Rewrite, LifecycleTimeoutIsThePodsGracePeriod) {
  json pod_template =
      template_with({{"lifecycle", {{"preStop", {{"httpGet", {{"port", 8080}}}}}}}});
  pod_template["spec"]["terminationGracePeriodSeconds"] = 90;
  auto probers = agent_probers(agent_of(rewritten(pod_template)));
  EXPECT_EQ(probers.at("/app-lifecycle/web/prestopz").timeout_seconds, 90);
}

TEST(Restore, TemplateWithoutTracesIsUnchanged) {
  const json pod_template = template_with({{"livenessProbe", {{"httpGet", {{"port", 8080}}}}}});
  auto back = restored(pod_template);
  EXPECT_EQ(back.pod_template, pod_template);
  EXPECT_FALSE(back.changed);
  EXPECT_TRUE(back.probes.empty());
}

}  // namespace
}  // namespace meshprobe::probe
