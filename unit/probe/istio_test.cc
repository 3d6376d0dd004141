// The engine beside the real Istio: the sidecar-mesh scope, templates Istio's injector already
// rendered (fixtures shaped like `istioctl kube-inject` output, written here), the per-pod hold
// on Istio's probe rewrite, ambient, proxyless gRPC, revisions, and AuthorizationPolicy.
#include <gtest/gtest.h>

#include "probe/authorization_policy.h"
#include "probe/condition.h"
#include "probe/decision.h"
#include "probe/istio_hold.h"
#include "probe/rewrite.h"

namespace meshprobe::probe {
namespace {

using nlohmann::json;

const AgentConfig kAgent{"registry.example/meshprobe-agent:1.0", kDefaultAgentPort};
const Labels kInjected{{"istio-injection", "enabled"}};

json app_template(json metadata = {{"labels", {{"app", "web"}}}}) {
  return {{"metadata", std::move(metadata)},
          {"spec",
           {{"containers",
             {{{"name", "web"},
               {"image", "web:1"},
               {"ports", {{{"containerPort", 8080}, {"name", "http"}}}},
               {"livenessProbe", {{"httpGet", {{"path", "/healthz"}, {"port", 8080}}}}},
               {"readinessProbe", {{"tcpSocket", {{"port", "http"}}}}}}}}}}};
}

// What `istioctl kube-inject` makes of app_template() (shape only, written here): istio-init,
// istio-proxy as a native sidecar with its own probes on 15021, the app's probes on 15020 with
// their originals in ISTIO_KUBE_APP_PROBERS, and the status annotation.
json kube_injected_template(const std::string& revision = "default") {
  json pod_template = app_template();
  pod_template["metadata"]["annotations"] = {
      {"sidecar.istio.io/status", json{{"initContainers", {"istio-init", "istio-proxy"}},
                                       {"containers", json::array()},
                                       {"volumes", {"istio-envoy", "istio-data"}},
                                       {"revision", revision}}
                                      .dump()},
      {"kubectl.kubernetes.io/default-container", "web"}};
  pod_template["metadata"]["labels"]["security.istio.io/tlsMode"] = "istio";
  json& web = pod_template["spec"]["containers"][0];
  web["livenessProbe"] = {{"httpGet", {{"path", "/app-health/web/livez"}, {"port", 15020}}}};
  web["readinessProbe"] = {{"httpGet", {{"path", "/app-health/web/readyz"}, {"port", 15020}}}};
  const json probers = {
      {"/app-health/web/livez", {{"httpGet", {{"path", "/healthz"}, {"port", 8080}}}}},
      {"/app-health/web/readyz", {{"tcpSocket", {{"port", 8080}}}}}};
  pod_template["spec"]["initContainers"] = {
      {{"name", "istio-init"},
       {"image", "istio/proxyv2"},
       {"args",
        {"istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-d", "15090,15021,15020"}}},
      {{"name", "istio-proxy"},
       {"image", "istio/proxyv2"},
       {"restartPolicy", "Always"},
       {"ports", {{{"containerPort", 15090}, {"name", "http-envoy-prom"}}}},
       {"env", {{{"name", "ISTIO_KUBE_APP_PROBERS"}, {"value", probers.dump()}}}},
       {"readinessProbe",
        {{"httpGet", {{"path", "/healthz/ready"}, {"port", 15021}}}, {"periodSeconds", 15}}},
       {"startupProbe",
        {{"httpGet", {{"path", "/healthz/ready"}, {"port", 15021}}}, {"failureThreshold", 600}}}}};
  return pod_template;
}

struct World {
  Labels namespace_labels = kInjected;
  std::string namespace_name = "shop";
  std::vector<HealthProbePolicy> policies;
  std::vector<PeerAuthentication> peer_authentications;
  std::vector<AuthorizationPolicy> authorization_policies;
  bool global = true;
  std::map<std::string, bool, std::less<>> revisions;
  bool explicit_scope = false;

  Decision decide_for(const json& pod_template) const {
    DecisionInput input;
    input.pod_template = &pod_template;
    input.namespace_name = namespace_name;
    input.namespace_labels = namespace_labels;
    input.policies = policies;
    input.peer_authentications = peer_authentications;
    input.authorization_policies = authorization_policies;
    input.rewrite_globally = global;
    input.revision_rewrite = revisions;
    input.explicit_scope = explicit_scope;
    return decide(input);
  }
  // decide, apply, summarize: what the controller does in one reconcile.
  std::pair<RewriteResult, ConditionSummary> converge(const json& pod_template) const {
    const Decision decision = decide_for(pod_template);
    auto result = apply_decision(decision, pod_template, kAgent);
    EXPECT_TRUE(result.ok());
    return {*result, summarize(decision, *result)};
  }
};

HealthProbePolicy policy(std::string namespace_name, PolicyMode mode) {
  HealthProbePolicy out;
  out.namespace_name = std::move(namespace_name);
  out.name = "p";
  out.mode = mode;
  return out;
}

std::string annotation_of(const json& pod_template, const std::string& key) {
  const json* metadata = pod_template.contains("metadata") ? &pod_template["metadata"] : nullptr;
  if (!metadata || !metadata->contains("annotations") || !(*metadata)["annotations"].contains(key))
    return "(absent)";
  return (*metadata)["annotations"][key].get<std::string>();
}

// ---- 1. default scope ----

TEST(IstioScope, OnlyTheSidecarMeshIsRewrittenByDefault) {
  struct Case {
    std::string name;
    Labels namespace_labels;
    json metadata;
    ConditionReason reason;
  };
  const std::vector<Case> cases = {
      {"injection label", kInjected, {{"labels", {{"app", "web"}}}}, ConditionReason::kRewritten},
      {"revision label",
       {{"istio.io/rev", "canary"}},
       {{"labels", {{"app", "web"}}}},
       ConditionReason::kRewritten},
      {"pod label",
       {},
       {{"labels", {{"sidecar.istio.io/inject", "true"}}}},
       ConditionReason::kRewritten},
      {"unlabelled", {}, {{"labels", {{"app", "web"}}}}, ConditionReason::kNotInMesh},
      {"opted out",
       kInjected,
       {{"labels", {{"sidecar.istio.io/inject", "false"}}}},
       ConditionReason::kNotInMesh},
      {"ambient",
       {{"istio.io/dataplane-mode", "ambient"}},
       {{"labels", {{"app", "web"}}}},
       ConditionReason::kAmbient},
      {"proxyless",
       kInjected,
       {{"annotations", {{"inject.istio.io/templates", "grpc-agent"}}}},
       ConditionReason::kProxylessGrpc},
  };
  for (const auto& test : cases) {
    SCOPED_TRACE(test.name);
    World world;
    world.namespace_labels = test.namespace_labels;
    auto [result, summary] = world.converge(app_template(test.metadata));
    EXPECT_EQ(summary.reason, test.reason) << summary.message;
    EXPECT_EQ(result.count(ProbeOutcome::kRewritten) > 0,
              test.reason == ConditionReason::kRewritten);
  }
}

TEST(IstioScope, HostNetworkPodsAreNeverInTheMesh) {
  World world;
  json pod_template = app_template();
  pod_template["spec"]["hostNetwork"] = true;
  auto [result, summary] = world.converge(pod_template);
  EXPECT_EQ(summary.reason, ConditionReason::kNotInMesh);
  EXPECT_NE(summary.message.find("hostNetwork pods never get Istio's sidecar"), std::string::npos);
}

TEST(IstioScope, OutsideTheMeshTheMessageSaysHowToRewriteAnyway) {
  World world;
  world.namespace_labels = {};
  auto [result, summary] = world.converge(app_template());
  EXPECT_FALSE(summary.status);
  EXPECT_EQ(summary.message,
            "Not rewritten: the workload is not in Istio's sidecar mesh (neither the namespace "
            "(istio-injection=enabled, istio.io/rev) nor the pod template "
            "(sidecar.istio.io/inject=true, istio.io/rev) asks for Istio's sidecar). A "
            "HealthProbePolicy with mode Always, or the pod template's annotation "
            "sidecar.istio.io/rewriteAppHTTPProbers=\"true\", has meshprobe rewrite it anyway.");
}

TEST(IstioScope, ExplicitPolicyOrAnnotationRewritesOutsideTheMesh) {
  World world;
  world.namespace_labels = {};
  world.policies = {policy("shop", PolicyMode::kAlways)};
  EXPECT_EQ(world.converge(app_template()).second.reason, ConditionReason::kRewritten);
  World by_annotation;
  by_annotation.namespace_labels = {};
  auto annotated =
      app_template({{"annotations", {{std::string(kRewriteAppProbersAnnotation), "true"}}}});
  EXPECT_EQ(by_annotation.converge(annotated).second.reason, ConditionReason::kRewritten);
  // ... and ambient and proxyless workloads too, when asked explicitly.
  World ambient;
  ambient.namespace_labels = {{"istio.io/dataplane-mode", "ambient"}};
  ambient.policies = {policy("shop", PolicyMode::kAlways)};
  EXPECT_EQ(ambient.converge(app_template()).second.reason, ConditionReason::kRewritten);
}

TEST(IstioScope, LeavingTheMeshRestoresInOneWrite) {
  World mesh;
  const json original = app_template();
  const json rewritten = mesh.converge(original).first.pod_template;
  ASSERT_TRUE(is_rewritten(rewritten));
  for (const Labels& labels : {Labels{}, Labels{{"istio.io/dataplane-mode", "ambient"}}}) {
    World outside;
    outside.namespace_labels = labels;
    auto [result, summary] = outside.converge(rewritten);
    EXPECT_EQ(result.pod_template, original);  // one write gives back the original, hold and all
    EXPECT_EQ(result.count(ProbeOutcome::kRestored), 2);
    auto [again, _] = outside.converge(result.pod_template);
    EXPECT_FALSE(again.changed);
  }
  World ambient;
  ambient.namespace_labels = {{"istio.io/dataplane-mode", "ambient"}};
  EXPECT_EQ(ambient.converge(rewritten).second.reason, ConditionReason::kAmbient);
}

TEST(IstioScope, InjectRewritesWhatItIsGivenButNotProxylessGrpc) {
  World inject;
  inject.namespace_labels = {};
  inject.namespace_name = "";
  inject.explicit_scope = true;
  EXPECT_EQ(inject.converge(app_template()).second.reason, ConditionReason::kRewritten);
  auto [result, summary] = inject.converge(
      app_template({{"annotations", {{"inject.istio.io/templates", "grpc-agent"}}}}));
  EXPECT_EQ(summary.reason, ConditionReason::kProxylessGrpc);
  EXPECT_FALSE(result.changed);
}

// ---- 2. Istio-injected templates ----

TEST(IstioInjected, IstiosContainersAndRewrittenProbesAreLeftToIstio) {
  World world;
  world.namespace_labels = {};  // kube-inject output is in the mesh wherever it runs
  const json injected = kube_injected_template();
  auto [result, summary] = world.converge(injected);
  EXPECT_FALSE(result.changed);
  EXPECT_EQ(result.pod_template, injected);
  EXPECT_EQ(summary.reason, ConditionReason::kLeftToIstio);
  EXPECT_FALSE(summary.status);
  ASSERT_EQ(result.probes.size(), 2u);  // istio-proxy's own probes are not even looked at
  for (const auto& report : result.probes) {
    EXPECT_EQ(report.container, "web");
    EXPECT_EQ(report.outcome, ProbeOutcome::kLeftToIstio);
  }
  EXPECT_EQ(result.probes[0].before, "httpGet :15020/app-health/web/livez");
  EXPECT_NE(summary.message.find("Left to Istio: container web liveness (httpGet "
                                 ":15020/app-health/web/livez: Istio rewrote it to its status "
                                 "port 15020, the original is in istio-proxy's "
                                 "ISTIO_KUBE_APP_PROBERS)"),
            std::string::npos)
      << summary.message;
  EXPECT_NE(summary.message.find("To hand them to meshprobe instead, render the manifest without "
                                 "Istio's probe rewrite"),
            std::string::npos);
}

TEST(IstioInjected, ProbesIstioDidNotRewriteFollowTheDecisionWithoutAHold) {
  World world;
  json injected = kube_injected_template();
  // Added after kube-inject: a container whose probe Istio never saw.
  injected["spec"]["containers"].push_back(
      {{"name", "metrics"},
       {"image", "metrics:1"},
       {"livenessProbe", {{"httpGet", {{"path", "/live"}, {"port", 9090}}}}}});
  auto [result, summary] = world.converge(injected);
  EXPECT_EQ(summary.reason, ConditionReason::kRewritten);
  EXPECT_EQ(result.count(ProbeOutcome::kRewritten), 1);
  EXPECT_EQ(result.count(ProbeOutcome::kLeftToIstio), 2);
  EXPECT_FALSE(result.held);  // Istio's webhook never injects a pod that holds istio-proxy
  const json& init = result.pod_template["spec"]["initContainers"];
  EXPECT_EQ(init[0]["name"], "meshprobe-agent");
  EXPECT_EQ(init[1], injected["spec"]["initContainers"][0]);  // istio-init untouched
  EXPECT_EQ(init[2], injected["spec"]["initContainers"][1]);  // istio-proxy untouched
  EXPECT_EQ(result.pod_template["spec"]["containers"][0], injected["spec"]["containers"][0]);
  auto restored = restore(result.pod_template, kAgent.port);
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(restored->pod_template, injected);
}

TEST(IstioInjected, TheStatusPortAnnotationIsIstios) {
  World world;
  json injected = kube_injected_template();
  injected["metadata"]["annotations"]["status.sidecar.istio.io/port"] = "15099";
  json& web = injected["spec"]["containers"][0];
  web["livenessProbe"]["httpGet"]["port"] = 15099;
  auto [result, summary] = world.converge(injected);
  ASSERT_EQ(result.probes.size(), 2u);
  EXPECT_EQ(result.probes[0].outcome, ProbeOutcome::kLeftToIstio);
  // 15020 is no longer Istio's port here: that probe is the application's own.
  EXPECT_EQ(result.probes[1].outcome, ProbeOutcome::kRewritten);
}

TEST(IstioInjected, RevisionOfAKubeInjectedTemplateComesFromItsStatus) {
  World world;
  world.namespace_labels = {};
  world.revisions = {{"canary", false}};
  const Decision decision = world.decide_for(kube_injected_template("canary"));
  EXPECT_TRUE(decision.mesh.sidecar_in_template);
  EXPECT_EQ(decision.mesh.revision, "canary");
  EXPECT_FALSE(decision.rewrite);
}

// ---- 3. one rewrite per probe: the hold ----

TEST(IstioHold, ARewrittenTemplateHoldsIstiosRewriteAndTheDecisionSeesThrough) {
  World world;
  const json original = app_template();
  auto [result, summary] = world.converge(original);
  ASSERT_TRUE(result.held);
  EXPECT_EQ(annotation_of(result.pod_template, "sidecar.istio.io/rewriteAppHTTPProbers"), "False");
  EXPECT_EQ(annotation_of(result.pod_template, "meshprobe.io/istio-rewrite-hold"), "{}");
  EXPECT_NE(summary.message.find("Meshprobe holds Istio's probe rewrite off for these pods"),
            std::string::npos);
  // meshprobe's own "false" is not the user's choice: the next reconcile is a fixed point.
  const Decision again = world.decide_for(result.pod_template);
  EXPECT_EQ(again.source, DecisionSource::kGlobalToggle);
  EXPECT_TRUE(again.rewrite);
  auto [converged, _] = world.converge(result.pod_template);
  EXPECT_FALSE(converged.changed);
  // The seed's global switch still turns it off, and everything comes back.
  World off = world;
  off.global = false;
  auto [restored, off_summary] = off.converge(result.pod_template);
  EXPECT_EQ(restored.pod_template, original);
  EXPECT_EQ(off_summary.reason, ConditionReason::kDisabledGlobally);
}

TEST(IstioHold, TheUsersTrueIsRecordedAndComesBack) {
  World world;
  const json original =
      app_template({{"annotations", {{std::string(kRewriteAppProbersAnnotation), "true"}}}});
  auto [result, summary] = world.converge(original);
  EXPECT_EQ(summary.reason, ConditionReason::kRewritten);
  EXPECT_EQ(annotation_of(result.pod_template, "sidecar.istio.io/rewriteAppHTTPProbers"), "False");
  EXPECT_EQ(annotation_of(result.pod_template, "meshprobe.io/istio-rewrite-hold"),
            R"({"before":"true"})");
  EXPECT_EQ(user_rewrite_annotation(result.pod_template["metadata"]), "true");
  EXPECT_EQ(world.decide_for(result.pod_template).source, DecisionSource::kTemplateAnnotation);
  auto restored = restore(result.pod_template, kAgent.port);
  EXPECT_EQ(restored->pod_template, original);
}

TEST(IstioHold, AUserWhoChangesTheAnnotationAfterwardsIsHeard) {
  World world;
  json held = world.converge(app_template()).first.pod_template;
  // The gesture the README documents: the user's "false" over meshprobe's "False".
  held["metadata"]["annotations"][std::string(kRewriteAppProbersAnnotation)] = "false";
  EXPECT_EQ(user_rewrite_annotation(held["metadata"]), "false");
  auto [result, summary] = world.converge(held);
  EXPECT_EQ(summary.reason, ConditionReason::kDisabledByAnnotation);
  EXPECT_FALSE(is_rewritten(result.pod_template));
  EXPECT_EQ(annotation_of(result.pod_template, "sidecar.istio.io/rewriteAppHTTPProbers"), "false");
  EXPECT_EQ(annotation_of(result.pod_template, "meshprobe.io/istio-rewrite-hold"), "(absent)");
}

TEST(IstioHold, NeverHoldsAtThePodWhereIstioWouldRewrite) {
  struct Case {
    std::string name;
    std::vector<HealthProbePolicy> policies;
    bool global;
    Labels namespace_labels;
    bool held;
  };
  const std::vector<Case> cases = {
      {"namespace Never, toggle on", {policy("shop", PolicyMode::kNever)}, true, kInjected, true},
      {"mesh-wide Never: the toggle is off already",
       {policy("istio-system", PolicyMode::kNever)},
       false,
       kInjected,
       false},
      {"namespace Never, toggle off",
       {policy("shop", PolicyMode::kNever)},
       false,
       kInjected,
       false},
      {"namespace Never outside the mesh", {policy("shop", PolicyMode::kNever)}, true, {}, false},
      {"global toggle off without a policy", {}, false, kInjected, false},
  };
  for (const auto& test : cases) {
    SCOPED_TRACE(test.name);
    World world;
    world.policies = test.policies;
    world.global = test.global;
    world.namespace_labels = test.namespace_labels;
    const json original = app_template();
    auto [result, summary] = world.converge(original);
    EXPECT_EQ(result.held, test.held);
    EXPECT_EQ(result.count(ProbeOutcome::kRewritten), 0);
    if (test.held) {
      EXPECT_EQ(annotation_of(result.pod_template, "sidecar.istio.io/rewriteAppHTTPProbers"),
                "False");
      EXPECT_NE(summary.message.find("the kubelet probes the application directly"),
                std::string::npos)
          << summary.message;
      EXPECT_EQ(restore(result.pod_template, kAgent.port)->pod_template, original);
      EXPECT_FALSE(world.converge(result.pod_template).first.changed);
      // Dropping the policy releases the hold and rewrites, in one write.
      World without = world;
      without.policies.clear();
      auto [rewritten, _] = without.converge(result.pod_template);
      EXPECT_EQ(rewritten.count(ProbeOutcome::kRewritten), 2);
      EXPECT_EQ(rewritten.pod_template, without.converge(original).first.pod_template);
    } else {
      EXPECT_EQ(result.pod_template, original);
    }
  }
}

TEST(IstioHold, NotRequiredTellsWhatIstioWillDo) {
  World world;
  world.policies = {policy("shop", PolicyMode::kWhenRequired)};
  json pod_template = app_template();
  pod_template["spec"]["containers"][0].erase("readinessProbe");  // TCP would be required
  auto [result, summary] = world.converge(pod_template);
  EXPECT_EQ(summary.reason, ConditionReason::kNotRequired);
  EXPECT_FALSE(result.held);
  EXPECT_NE(summary.message.find("Istio's injector rewrites them to pilot-agent at admission (the "
                                 "global setting sidecarInjectorWebhook.rewriteAppHTTPProbe=true)"),
            std::string::npos)
      << summary.message;
  world.global = false;
  EXPECT_NE(world.converge(pod_template)
                .second.message.find("Istio's injector leaves them as they are (the global setting "
                                     "sidecarInjectorWebhook.rewriteAppHTTPProbe=false)"),
            std::string::npos);
  // When meshprobe rewrites some (TCP) and holds, Istio leaves the rest too: said so.
  World partial = world;
  partial.global = true;
  auto [mixed, mixed_summary] = partial.converge(app_template());
  EXPECT_TRUE(mixed.held);
  EXPECT_EQ(mixed.count(ProbeOutcome::kRewritten), 1);
  EXPECT_NE(mixed_summary.message.find("so Istio's injector leaves them as they are"),
            std::string::npos)
      << mixed_summary.message;
}

// ---- 7. revisions ----

TEST(IstioRevisions, ARevisionFollowsItsOwnInjectorConfigMap) {
  World world;
  world.namespace_labels = {{"istio.io/rev", "canary"}};
  world.global = true;
  world.revisions = {{"canary", false}};
  auto decision = world.decide_for(app_template());
  EXPECT_FALSE(decision.rewrite);
  EXPECT_EQ(decision.source, DecisionSource::kGlobalToggle);
  EXPECT_EQ(decision.message,
            "the global setting sidecarInjectorWebhook.rewriteAppHTTPProbe=false of revision "
            "canary (ConfigMap istio-system/istio-sidecar-injector-canary)");
  world.revisions = {{"canary", true}};
  world.global = false;
  EXPECT_TRUE(world.decide_for(app_template()).rewrite);
  // "default" is the default revision's ConfigMap.
  World default_revision;
  default_revision.namespace_labels = {{"istio.io/rev", "default"}};
  default_revision.global = false;
  default_revision.revisions = {{"default", true}};
  EXPECT_FALSE(default_revision.decide_for(app_template()).rewrite);
}

TEST(IstioRevisions, AMissingRevisionConfigMapFallsBackToTheDefaultWithANote) {
  World world;
  world.namespace_labels = {{"istio.io/rev", "stable"}};
  world.global = true;
  const auto decision = world.decide_for(app_template());
  EXPECT_TRUE(decision.rewrite);
  ASSERT_EQ(decision.notes.size(), 1u);
  EXPECT_EQ(decision.notes[0],
            "the pods are injected by Istio revision stable, but its ConfigMap "
            "istio-system/istio-sidecar-injector-stable is not there; the default revision's "
            "setting applies");
}

// ---- 6. AuthorizationPolicy ----

AuthorizationPolicy parsed(const json& spec, std::string namespace_name = "shop",
                           std::string name = "authz") {
  json object = {{"apiVersion", "security.istio.io/v1"},
                 {"kind", "AuthorizationPolicy"},
                 {"metadata",
                  {{"namespace", namespace_name},
                   {"name", name},
                   {"creationTimestamp", "2026-01-01T00:00:00Z"}}},
                 {"spec", spec}};
  auto policy = parse_authorization_policy(object);
  EXPECT_TRUE(policy.ok()) << (policy.ok() ? "" : policy.error().message);
  return *policy;
}

TEST(AuthorizationPolicy, KubeletAccessAsIstioEvaluatesIt) {
  using Access = AccessVerdict::Access;
  struct Case {
    std::string name;
    std::vector<json> specs;
    Access access;
  };
  const json to_path = {{"to", {{{"operation", {{"paths", {"/healthz"}}}}}}}};
  const std::vector<Case> cases = {
      {"nothing", {}, Access::kAllowed},
      {"spec {} allows nothing", {json::object()}, Access::kDenied},
      {"ALLOW with an empty rule allows all", {{{"rules", {json::object()}}}}, Access::kAllowed},
      {"DENY on the path", {{{"action", "DENY"}, {"rules", {to_path}}}}, Access::kDenied},
      {"DENY on another path",
       {{{"action", "DENY"}, {"rules", {{{"to", {{{"operation", {{"paths", {"/admin*"}}}}}}}}}}}},
       Access::kAllowed},
      {"DENY with notPaths",
       {{{"action", "DENY"},
         {"rules", {{{"to", {{{"operation", {{"notPaths", {"/public/*"}}}}}}}}}}}},
       Access::kDenied},
      {"DENY without rules matches nothing", {{{"action", "DENY"}}}, Access::kAllowed},
      {"ALLOW principals only: plaintext has none",
       {{{"rules",
          {{{"from", {{{"source", {{"principals", {"cluster.local/ns/shop/sa/web"}}}}}}}}}}}},
       Access::kDenied},
      {"ALLOW namespaces only",
       {{{"rules", {{{"from", {{{"source", {{"namespaces", {"shop"}}}}}}}}}}}},
       Access::kDenied},
      {"ALLOW principals, or the path",
       {{{"rules", {{{"from", {{{"source", {{"principals", {"*"}}}}}}}}, to_path}}}},
       Access::kAllowed},
      {"DENY notPrincipals * (everything unauthenticated)",
       {{{"action", "DENY"}, {"rules", {{{"from", {{{"source", {{"notPrincipals", {"*"}}}}}}}}}}}},
       Access::kDenied},
      {"ALLOW on the probe's port",
       {{{"rules", {{{"to", {{{"operation", {{"ports", {"8080"}}}}}}}}}}}},
       Access::kAllowed},
      {"ALLOW on another port",
       {{{"rules", {{{"to", {{{"operation", {{"ports", {"9090"}}}}}}}}}}}},
       Access::kDenied},
      {"DENY notPorts of another port",
       {{{"action", "DENY"}, {"rules", {{{"to", {{{"operation", {{"notPorts", {"9090"}}}}}}}}}}}},
       Access::kDenied},
      {"ALLOW GET only",
       {{{"rules", {{{"to", {{{"operation", {{"methods", {"GET"}}}}}}}}}}}},
       Access::kAllowed},
      {"ALLOW prefix path",
       {{{"rules", {{{"to", {{{"operation", {{"paths", {"/health*"}}}}}}}}}}}},
       Access::kAllowed},
      {"CUSTOM provider decides",
       {{{"action", "CUSTOM"}, {"provider", {{"name", "opa"}}}, {"rules", {json::object()}}}},
       Access::kUnknown},
      {"CUSTOM on another path does not apply",
       {{{"action", "CUSTOM"},
         {"provider", {{"name", "opa"}}},
         {"rules", {{{"to", {{{"operation", {{"paths", {"/admin"}}}}}}}}}}}},
       Access::kAllowed},
      {"DENY wins over CUSTOM",
       {{{"action", "CUSTOM"}, {"provider", {{"name", "opa"}}}, {"rules", {json::object()}}},
        {{"action", "DENY"}, {"rules", {to_path}}}},
       Access::kDenied},
      {"unknown when key",
       {{{"action", "DENY"},
         {"rules", {{{"when", {{{"key", "request.headers[x-env]"}, {"values", {"prod"}}}}}}}}}},
       Access::kUnknown},
      {"modelled when key: request.auth.principal absent",
       {{{"action", "DENY"},
         {"rules", {{{"when", {{{"key", "request.auth.principal"}, {"values", {"*"}}}}}}}}}},
       Access::kAllowed},
      {"modelled when key: destination.port",
       {{{"rules", {{{"when", {{{"key", "destination.port"}, {"values", {"8080"}}}}}}}}}},
       Access::kAllowed},
      {"ipBlocks cannot be judged",
       {{{"rules", {{{"from", {{{"source", {{"ipBlocks", {"10.0.0.0/8"}}}}}}}}}}}},
       Access::kUnknown},
      {"AUDIT decides nothing",
       {{{"action", "AUDIT"}, {"rules", {json::object()}}}},
       Access::kAllowed},
      {"targetRefs bind waypoints, not sidecars",
       {{{"targetRefs", {{{"kind", "Service"}, {"group", ""}, {"name", "web"}}}}}},
       Access::kAllowed},
  };
  for (const auto& test : cases) {
    SCOPED_TRACE(test.name);
    std::vector<AuthorizationPolicy> policies;
    int index = 0;
    for (const auto& spec : test.specs)
      policies.push_back(parsed(spec, "shop", "p" + std::to_string(index++)));
    const auto applicable =
        applicable_authorization_policies(policies, "istio-system", "shop", {{"app", "web"}});
    const auto verdict = kubelet_access(applicable, {8080, "GET", "/healthz?verbose=1"});
    EXPECT_EQ(verdict.access, test.access) << verdict.reason;
  }
}

TEST(AuthorizationPolicy, ApplicabilityFollowsSelectorNamespaceAndRoot) {
  const std::vector<AuthorizationPolicy> policies = {
      parsed({{"selector", {{"matchLabels", {{"app", "web"}}}}}}, "shop", "web-only"),
      parsed({{"selector", {{"matchLabels", {{"app", "db"}}}}}}, "shop", "db-only"),
      parsed(json::object(), "other", "elsewhere"),
      parsed(json::object(), "istio-system", "mesh-wide"),
      parsed({{"selector", {{"matchLabels", {{"app", "web"}}}}}}, "istio-system", "root-selected"),
  };
  const auto applicable =
      applicable_authorization_policies(policies, "istio-system", "shop", {{"app", "web"}});
  std::vector<std::string> names;
  for (const auto& policy : applicable) names.push_back(policy.name);
  EXPECT_EQ(names, (std::vector<std::string>{"mesh-wide", "root-selected", "web-only"}));
}

TEST(AuthorizationPolicy, ParseErrorsNameTheField) {
  json object = {{"metadata", {{"namespace", "shop"}, {"name", "bad"}}},
                 {"spec", {{"action", "MAYBE"}}}};
  auto policy = parse_authorization_policy(object);
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().message,
            "spec.action: must be ALLOW, DENY, AUDIT or CUSTOM, got \"MAYBE\"");
  object["spec"] = {{"rules", {{{"to", {{{"operation", {{"paths", "/x"}}}}}}}}}};
  EXPECT_EQ(parse_authorization_policy(object).error().message,
            "spec.rules[0].to[0].operation.paths: must be a list of strings");
}

TEST(AuthorizationPolicy, WhenRequiredRewritesWhatTheKubeletWouldBeDenied) {
  World world;
  world.policies = {policy("shop", PolicyMode::kWhenRequired)};
  json pod_template = app_template();
  pod_template["spec"]["containers"][0].erase("readinessProbe");
  // PERMISSIVE, no AuthorizationPolicy: not required.
  EXPECT_EQ(world.converge(pod_template).second.reason, ConditionReason::kNotRequired);
  // spec {} in the namespace: the kubelet is denied, so it is required.
  world.authorization_policies = {parsed(json::object(), "shop", "deny-all")};
  auto [result, summary] = world.converge(pod_template);
  EXPECT_EQ(summary.reason, ConditionReason::kRewritten);
  EXPECT_NE(summary.message.find(
                "required: no rule of the ALLOW AuthorizationPolicies (shop/deny-all) allows the "
                "kubelet's plaintext GET :8080/healthz"),
            std::string::npos)
      << summary.message;
  // A CUSTOM provider cannot be judged: rewritten to be safe, and said so.
  world.authorization_policies = {parsed(
      {{"action", "CUSTOM"}, {"provider", {{"name", "ext-authz"}}}, {"rules", {json::object()}}},
      "istio-system", "ext")};
  auto [custom, custom_summary] = world.converge(pod_template);
  EXPECT_EQ(custom_summary.reason, ConditionReason::kRewritten);
  EXPECT_NE(custom_summary.message.find("its external provider \"ext-authz\" decides; rewritten "
                                        "to be safe"),
            std::string::npos)
      << custom_summary.message;
  // Removing it restores.
  world.authorization_policies.clear();
  auto [restored, restored_summary] = world.converge(custom.pod_template);
  EXPECT_EQ(restored.pod_template, pod_template);
  EXPECT_EQ(restored_summary.reason, ConditionReason::kNotRequired);
}

TEST(AuthorizationPolicy, GrpcProbesAreJudgedAsTheKubeletSendsThem) {
  const auto deny_grpc = parsed(
      {{"action", "DENY"},
       {"rules",
        {{{"to",
           {{{"operation", {{"paths", {"/grpc.health.v1.Health/*"}}, {"methods", {"POST"}}}}}}}}}}},
      "shop", "no-grpc-health");
  World world;
  world.policies = {policy("shop", PolicyMode::kWhenRequired)};
  world.authorization_policies = {deny_grpc};
  json pod_template = app_template();
  pod_template["spec"]["containers"][0]["livenessProbe"] = {{"grpc", {{"port", 9000}}}};
  pod_template["spec"]["containers"][0].erase("readinessProbe");
  auto [result, summary] = world.converge(pod_template);
  EXPECT_EQ(result.count(ProbeOutcome::kRewritten), 1) << summary.message;
}

}  // namespace
}  // namespace meshprobe::probe
