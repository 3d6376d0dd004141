#include "probe/decision.h"

#include <gtest/gtest.h>

#include "probe/mesh.h"
#include "probe/rewrite.h"

namespace meshprobe::probe {
namespace {

using nlohmann::json;

TEST(ParseGoBool, AcceptsExactlyWhatGoAccepts) {
  for (const char* text : {"1", "t", "T", "TRUE", "true", "True"})
    EXPECT_EQ(parse_go_bool(text), true) << text;
  for (const char* text : {"0", "f", "F", "FALSE", "false", "False"})
    EXPECT_EQ(parse_go_bool(text), false) << text;
  for (const char* text : {"", "yes", "no", "on", "tRUE", " true", "true ", "2", "y"}) {
    EXPECT_EQ(parse_go_bool(text), std::nullopt) << text;
  }
}

json metadata_with_annotation(std::optional<std::string> value) {
  json metadata = {{"labels", {{"app", "web"}}}};
  if (value) metadata["annotations"] = {{std::string(kRewriteAppProbersAnnotation), *value}};
  return metadata;
}

TEST(Decide, TemplateAnnotationTimesGlobalToggle) {
  struct Case {
    std::optional<std::string> annotation;
    bool global;
    bool rewrite;
    DecisionSource source;
    std::size_t notes;
  };
  using enum DecisionSource;
  const std::vector<Case> cases = {
      {std::nullopt, true, true, kGlobalToggle, 0},
      {std::nullopt, false, false, kGlobalToggle, 0},
      {"true", true, true, kTemplateAnnotation, 0},
      {"true", false, true, kTemplateAnnotation, 0},
      {"false", true, false, kTemplateAnnotation, 0},
      {"false", false, false, kTemplateAnnotation, 0},
      {"T", false, true, kTemplateAnnotation, 0},
      {"0", true, false, kTemplateAnnotation, 0},
      {"maybe", true, true, kGlobalToggle, 1},
      {"maybe", false, false, kGlobalToggle, 1},
      {"", false, false, kGlobalToggle, 1},
      {"yes", false, false, kGlobalToggle, 1},
  };
  for (const auto& test : cases) {
    SCOPED_TRACE(test.annotation.value_or("(none)") + (test.global ? " global on" : " global off"));
    const json metadata = metadata_with_annotation(test.annotation);
    DecisionInput input;
    input.template_metadata = &metadata;
    input.namespace_name = "shop";
    input.namespace_labels = {{"istio-injection", "enabled"}};
    input.rewrite_globally = test.global;
    auto decision = decide(input);
    EXPECT_EQ(decision.rewrite, test.rewrite);
    EXPECT_EQ(decision.source, test.source);
    ASSERT_EQ(decision.notes.size(), test.notes);
    if (test.notes) {
      EXPECT_EQ(decision.notes[0],
                "the pod template's annotation sidecar.istio.io/rewriteAppHTTPProbers=\"" +
                    *test.annotation + "\" is not a boolean and is ignored");
    }
  }
}

TEST(Decide, AnnotationOnTheDeploymentItselfIsIgnoredAndSaidSo) {
  const json deployment_metadata = metadata_with_annotation("false");
  const json template_metadata = metadata_with_annotation(std::nullopt);
  DecisionInput input;
  input.workload_metadata = &deployment_metadata;
  input.template_metadata = &template_metadata;
  input.namespace_labels = {{"istio-injection", "enabled"}};
  auto decision = decide(input);
  EXPECT_TRUE(decision.rewrite);
  EXPECT_EQ(decision.source, DecisionSource::kGlobalToggle);
  ASSERT_EQ(decision.notes.size(), 1u);
  EXPECT_EQ(decision.notes[0],
            "the Deployment's own annotation sidecar.istio.io/rewriteAppHTTPProbers=\"false\" is "
            "ignored: it belongs "
            "on the pod template (spec.template.metadata.annotations)");
  EXPECT_EQ(decision.message, "the global setting sidecarInjectorWebhook.rewriteAppHTTPProbe=true");
}

HealthProbePolicy policy(std::string namespace_name, std::string name, PolicyMode mode,
                         std::optional<Labels> selector = std::nullopt) {
  HealthProbePolicy policy;
  policy.namespace_name = std::move(namespace_name);
  policy.name = std::move(name);
  policy.creation_timestamp = "2024-01-01T00:00:00Z";
  policy.mode = mode;
  if (selector) policy.selector = LabelSelector{*selector, {}};
  return policy;
}

TEST(Decide, PolicyPrecedenceUnderTheAnnotationAndOverTheToggle) {
  const std::vector<HealthProbePolicy> policies = {
      policy("istio-system", "mesh", PolicyMode::kAlways),
      policy("shop", "namespace", PolicyMode::kNever),
      policy("shop", "web", PolicyMode::kWhenRequired, Labels{{"app", "web"}}),
  };
  struct Case {
    const char* name;
    std::size_t policy_count;  // the first N policies exist
    std::optional<std::string> annotation;
    bool rewrite;
    DecisionSource source;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"mesh wide", 1, std::nullopt, true, DecisionSource::kPolicy,
       "HealthProbePolicy istio-system/mesh (mesh wide, mode Always)"},
      {"namespace over mesh", 2, std::nullopt, false, DecisionSource::kPolicy,
       "HealthProbePolicy shop/namespace (namespace level, mode Never)"},
      {"selector over namespace", 3, std::nullopt, true, DecisionSource::kPolicy,
       "HealthProbePolicy shop/web (workload level, mode WhenRequired)"},
      {"annotation over policy", 2, "true", true, DecisionSource::kTemplateAnnotation,
       "the pod template's annotation sidecar.istio.io/rewriteAppHTTPProbers=\"true\""},
  };
  for (const auto& test : cases) {
    SCOPED_TRACE(test.name);
    const json metadata = metadata_with_annotation(test.annotation);
    DecisionInput input;
    input.template_metadata = &metadata;
    input.namespace_name = "shop";
    input.policies = std::span(policies).first(test.policy_count);
    input.rewrite_globally = false;
    auto decision = decide(input);
    EXPECT_EQ(decision.rewrite, test.rewrite);
    EXPECT_EQ(decision.source, test.source);
    EXPECT_EQ(decision.message, test.message);
    ASSERT_TRUE(decision.policy.has_value());
    EXPECT_EQ(decision.policy->name, policies[test.policy_count - 1].name);
  }
}

TEST(Decide, PolicyProbesAndProtocolsBecomeTheScope) {
  auto narrow = policy("shop", "narrow", PolicyMode::kAlways);
  narrow.probes = {ProbeFamily::kReadiness};
  narrow.protocols = {ProbeProtocol::kTcp, ProbeProtocol::kGrpc};
  const std::vector<HealthProbePolicy> policies = {narrow};
  DecisionInput input;
  input.namespace_name = "shop";
  input.policies = policies;
  auto decision = decide(input);
  EXPECT_EQ(decision.scope.families, narrow.probes);
  EXPECT_EQ(decision.scope.protocols, narrow.protocols);
  EXPECT_EQ(decision.scope.origin, "HealthProbePolicy shop/narrow");
  EXPECT_FALSE(decision.scope.when_required.has_value());
}

// Mode WhenRequired end to end: decide(), then rewrite() with the scope it gives.
struct WhenRequiredCase {
  const char* name;
  std::vector<PeerAuthentication> peer_authentications;
  Labels namespace_labels;
  json template_labels;
  json annotations;
  std::vector<ProbeOutcome>
      expected;  // liveness httpGet :8080, readiness tcpSocket :8080, startup grpc :9090
};

TEST(Decide, WhenRequiredRewritesOnlyWhatWouldBreak) {
  using enum ProbeOutcome;
  const PeerAuthentication strict_namespace{"shop", "default",         "2024-01-01T00:00:00Z",
                                            {},     MtlsMode::kStrict, {}};
  const PeerAuthentication strict_mesh{"istio-system",    "default", "2024-01-01T00:00:00Z", {},
                                       MtlsMode::kStrict, {}};
  const PeerAuthentication permissive_8080{"shop",
                                           "web",
                                           "2024-01-01T00:00:00Z",
                                           {{"app", "web"}},
                                           MtlsMode::kUnset,
                                           {{8080, MtlsMode::kPermissive}}};
  const Labels injected = {{"istio-injection", "enabled"}};
  const std::vector<WhenRequiredCase> cases = {
      {"nothing strict, not in mesh",
       {},
       {},
       json::object(),
       json::object(),
       {kNotRequired, kNotRequired, kNotRequired}},
      {"strict namespace, not in mesh",
       {strict_namespace},
       {},
       json::object(),
       json::object(),
       {kRewritten, kNotRequired, kRewritten}},
      {"strict mesh, in mesh",
       {strict_mesh},
       injected,
       json::object(),
       json::object(),
       {kRewritten, kRewritten, kRewritten}},
      {"port 8080 permissive by port level",
       {strict_namespace, permissive_8080},
       injected,
       json::object(),
       json::object(),
       {kNotRequired, kRewritten, kRewritten}},
      {"in mesh by revision label",
       {},
       {{"istio.io/rev", "canary"}},
       json::object(),
       json::object(),
       {kNotRequired, kRewritten, kNotRequired}},
      {"template opts out of injection",
       {},
       injected,
       {{"sidecar.istio.io/inject", "false"}},
       json::object(),
       {kNotRequired, kNotRequired, kNotRequired}},
      {"template opts in",
       {},
       {},
       {{"sidecar.istio.io/inject", "true"}},
       json::object(),
       {kNotRequired, kRewritten, kNotRequired}},
      {"port not captured by the sidecar",
       {strict_namespace},
       injected,
       json::object(),
       {{"traffic.sidecar.istio.io/excludeInboundPorts", "8080"}},
       {kNotRequired, kNotRequired, kRewritten}},
      {"only listed ports captured",
       {strict_namespace},
       injected,
       json::object(),
       {{"traffic.sidecar.istio.io/includeInboundPorts", "9090"}},
       {kNotRequired, kNotRequired, kRewritten}},
  };
  const std::vector<HealthProbePolicy> policies = {
      policy("shop", "web", PolicyMode::kWhenRequired)};
  for (const auto& test : cases) {
    SCOPED_TRACE(test.name);
    json labels = {{"app", "web"}};
    labels.update(test.template_labels);
    const json pod_template = {
        {"metadata", {{"labels", labels}, {"annotations", test.annotations}}},
        {"spec",
         {{"containers",
           {{{"name", "web"},
             {"livenessProbe", {{"httpGet", {{"port", 8080}}}}},
             {"readinessProbe", {{"tcpSocket", {{"port", 8080}}}}},
             {"startupProbe", {{"grpc", {{"port", 9090}}}}}}}}}}};
    DecisionInput input;
    input.template_metadata = &pod_template["metadata"];
    input.namespace_name = "shop";
    input.namespace_labels = test.namespace_labels;
    input.policies = policies;
    input.peer_authentications = test.peer_authentications;
    auto decision = decide(input);
    ASSERT_TRUE(decision.rewrite);
    ASSERT_TRUE(decision.scope.when_required.has_value());
    auto result = rewrite(pod_template, {"agent:1", kDefaultAgentPort}, decision.scope);
    ASSERT_TRUE(result.ok());
    ASSERT_EQ(result->probes.size(), test.expected.size());
    for (std::size_t i = 0; i < test.expected.size(); ++i) {
      EXPECT_EQ(result->probes[i].outcome, test.expected[i])
          << i << ": " << result->probes[i].reason;
    }
  }
}

TEST(MeshScope, FollowsIstiosWebhookSelectorsAndInjectRequired) {
  struct Case {
    std::string name;
    Labels namespace_labels;
    json template_metadata;
    json spec;
    DataPlane data_plane;
    bool injects;
    std::string revision;
    std::string reason;
  };
  const json no_spec = json::object();
  const std::string nothing =
      "neither the namespace (istio-injection=enabled, istio.io/rev) nor the pod template "
      "(sidecar.istio.io/inject=true, istio.io/rev) asks for Istio's sidecar";
  using enum DataPlane;
  const std::vector<Case> cases = {
      {"unlabelled", {}, json::object(), no_spec, kNone, false, "", nothing},
      {"injection enabled",
       {{"istio-injection", "enabled"}},
       json::object(),
       no_spec,
       kSidecar,
       true,
       "",
       "namespace label istio-injection=enabled"},
      {"injection disabled wins over rev",
       {{"istio-injection", "disabled"}, {"istio.io/rev", "1-20"}},
       json::object(),
       no_spec,
       kNone,
       false,
       "",
       "namespace label istio-injection=disabled"},
      {"namespace revision",
       {{"istio.io/rev", "1-20"}},
       json::object(),
       no_spec,
       kSidecar,
       true,
       "1-20",
       "namespace label istio.io/rev=1-20"},
      {"namespace revision default",
       {{"istio.io/rev", "default"}},
       json::object(),
       no_spec,
       kSidecar,
       true,
       "",
       "namespace label istio.io/rev=default"},
      {"injection label wins over the pod's revision",
       {{"istio-injection", "enabled"}},
       {{"labels", {{"istio.io/rev", "canary"}}}},
       no_spec,
       kSidecar,
       true,
       "",
       "namespace label istio-injection=enabled"},
      {"pod revision",
       {},
       {{"labels", {{"istio.io/rev", "canary"}}}},
       no_spec,
       kSidecar,
       true,
       "canary",
       "pod template label istio.io/rev=canary"},
      {"pod label false",
       {{"istio-injection", "enabled"}},
       {{"labels", {{"sidecar.istio.io/inject", "false"}}}},
       no_spec,
       kNone,
       false,
       "",
       "pod template label sidecar.istio.io/inject=false"},
      {"pod label true",
       {},
       {{"labels", {{"sidecar.istio.io/inject", "true"}}}},
       no_spec,
       kSidecar,
       true,
       "",
       "pod template label sidecar.istio.io/inject=true"},
      {"pod annotation true alone is not selected by any webhook",
       {},
       {{"annotations", {{"sidecar.istio.io/inject", "true"}}}},
       no_spec,
       kNone,
       false,
       "",
       nothing},
      {"pod annotation false",
       {{"istio-injection", "enabled"}},
       {{"annotations", {{"sidecar.istio.io/inject", "false"}}}},
       no_spec,
       kNone,
       false,
       "",
       "pod template annotation sidecar.istio.io/inject=false"},
      {"label wins over annotation",
       {},
       {{"labels", {{"sidecar.istio.io/inject", "true"}}},
        {"annotations", {{"sidecar.istio.io/inject", "false"}}}},
       no_spec,
       kSidecar,
       true,
       "",
       "pod template label sidecar.istio.io/inject=true"},
      {"other label values fall back to the default policy",
       {{"istio-injection", "enabled"}},
       {{"labels", {{"sidecar.istio.io/inject", "no"}}}},
       no_spec,
       kSidecar,
       true,
       "",
       "namespace label istio-injection=enabled"},
      {"hostNetwork",
       {{"istio-injection", "enabled"}},
       json::object(),
       {{"hostNetwork", true}},
       kNone,
       false,
       "",
       "hostNetwork pods never get Istio's sidecar"},
      {"ambient namespace",
       {{"istio.io/dataplane-mode", "ambient"}},
       json::object(),
       no_spec,
       kAmbient,
       false,
       "",
       "namespace label istio.io/dataplane-mode=ambient"},
      {"ambient pod",
       {},
       {{"labels", {{"istio.io/dataplane-mode", "ambient"}}}},
       no_spec,
       kAmbient,
       false,
       "",
       "pod template label istio.io/dataplane-mode=ambient"},
      {"ambient opt-out",
       {{"istio.io/dataplane-mode", "ambient"}},
       {{"labels", {{"istio.io/dataplane-mode", "none"}}}},
       no_spec,
       kNone,
       false,
       "",
       nothing + "; pod template label istio.io/dataplane-mode=none"},
      {"a sidecar wins over ambient",
       {{"istio.io/dataplane-mode", "ambient"}, {"istio-injection", "enabled"}},
       json::object(),
       no_spec,
       kSidecar,
       true,
       "",
       "namespace label istio-injection=enabled"},
      {"proxyless gRPC",
       {{"istio-injection", "enabled"}},
       {{"annotations", {{"inject.istio.io/templates", "grpc-agent"}}}},
       no_spec,
       kProxylessGrpc,
       true,
       "",
       "namespace label istio-injection=enabled; pod template annotation "
       "inject.istio.io/templates selects Istio's proxyless gRPC template"},
      {"ignored namespace",
       {{"istio-injection", "enabled"}},
       json::object(),
       no_spec,
       kNone,
       false,
       "",
       "Istio's injector never injects namespace kube-system"},
  };
  for (const auto& test : cases) {
    SCOPED_TRACE(test.name);
    const std::string namespace_name = test.name == "ignored namespace" ? "kube-system" : "shop";
    const MeshScope scope =
        mesh_scope(test.namespace_labels, namespace_name, test.template_metadata, test.spec);
    EXPECT_EQ(scope.data_plane, test.data_plane);
    EXPECT_EQ(scope.injector_injects, test.injects);
    EXPECT_FALSE(scope.sidecar_in_template);
    EXPECT_EQ(scope.revision, test.revision);
    EXPECT_EQ(scope.reason, test.reason);
    EXPECT_EQ(membership_of(scope).in_mesh, test.data_plane == kSidecar);
  }
}

}  // namespace
}  // namespace meshprobe::probe
