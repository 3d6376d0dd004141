#include "probe/health_probe_policy.h"

#include <gtest/gtest.h>

namespace meshprobe::probe {
namespace {

using nlohmann::json;

json object_with_spec(const json& spec) {
  return {{"apiVersion", "meshprobe.io/v1alpha1"},
          {"kind", "HealthProbePolicy"},
          {"metadata",
           {{"name", "p"}, {"namespace", "shop"}, {"creationTimestamp", "2024-01-01T00:00:00Z"}}},
          {"spec", spec}};
}

TEST(ParseHealthProbePolicy, FullSpec) {
  auto parsed = parse_health_probe_policy(object_with_spec(
      {{"selector",
        {{"matchLabels", {{"app", "web"}}},
         {"matchExpressions", {{{"key", "tier"}, {"operator", "In"}, {"values", {"front"}}}}}}},
       {"mode", "WhenRequired"},
       {"probes", {"liveness", "lifecycle"}},
       {"protocols", {"TCP"}}}));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->reference(), "HealthProbePolicy shop/p");
  EXPECT_EQ(parsed->mode, PolicyMode::kWhenRequired);
  EXPECT_EQ(parsed->probes,
            (std::set<ProbeFamily>{ProbeFamily::kLiveness, ProbeFamily::kLifecycle}));
  EXPECT_EQ(parsed->protocols, (std::set<ProbeProtocol>{ProbeProtocol::kTcp}));
  ASSERT_TRUE(parsed->selector.has_value());
  EXPECT_TRUE(parsed->selector->matches({{"app", "web"}, {"tier", "front"}}));
  EXPECT_FALSE(parsed->selector->matches({{"app", "web"}, {"tier", "back"}}));
}

TEST(ParseHealthProbePolicy, Defaults) {
  auto parsed = parse_health_probe_policy(object_with_spec(json::object()));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->mode, PolicyMode::kAlways);
  EXPECT_EQ(parsed->probes, kAllProbeFamilies);
  EXPECT_EQ(parsed->protocols, kAllProbeProtocols);
  EXPECT_FALSE(parsed->selector.has_value());
}

TEST(ParseHealthProbePolicy, ValidationErrorsNameEveryField) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"mode", "Sometimes"}},
       "spec.mode: must be one of Always, Never, WhenRequired, got \"Sometimes\""},
      {{{"mode", 1}}, "spec.mode: must be one of Always, Never, WhenRequired, got 1"},
      {{{"probes", {"liveness", "smoke"}}},
       "spec.probes[1]: must be one of liveness, readiness, startup, lifecycle, got \"smoke\""},
      {{{"probes", json::array()}},
       "spec.probes: must not be empty (leave it out to cover all of liveness, readiness, startup, "
       "lifecycle)"},
      {{{"protocols", "HTTP"}}, "spec.protocols: must be a list of HTTP, TCP, GRPC"},
      {{{"protocols", {"http"}}},
       "spec.protocols[0]: must be one of HTTP, TCP, GRPC, got \"http\""},
      {{{"selector", {{"matchExpressions", {{{"key", "a"}, {"operator", "Near"}}}}}}},
       "spec.selector.matchExpressions[0].operator: must be In, NotIn, Exists or DoesNotExist, got "
       "\"Near\""},
      {{{"selector", {{"matchExpressions", {{{"key", "a"}, {"operator", "In"}}}}}}},
       "spec.selector.matchExpressions[0].values: must not be empty for operator In"},
      {{{"modes", "Always"}},
       "spec.modes: is not a field of HealthProbePolicy (selector, mode, probes, protocols)"},
      {{{"mode", "Nope"}, {"protocols", {"UDP"}}},
       "spec.mode: must be one of Always, Never, WhenRequired, got \"Nope\"; "
       "spec.protocols[0]: must be one of HTTP, TCP, GRPC, got \"UDP\""},
  };
  for (const auto& [spec, error] : cases) {
    auto parsed = parse_health_probe_policy(object_with_spec(spec));
    ASSERT_FALSE(parsed.ok()) << spec.dump();
    EXPECT_EQ(parsed.error().message, error);
  }
  EXPECT_EQ(parse_health_probe_policy({{"metadata", {{"name", "p"}}}}).error().message,
            "spec: must be an object");
}

HealthProbePolicy policy(std::string namespace_name, std::string name,
                         std::optional<Labels> selector,
                         std::string created = "2024-01-01T00:00:00Z") {
  HealthProbePolicy policy;
  policy.namespace_name = std::move(namespace_name);
  policy.name = std::move(name);
  policy.creation_timestamp = std::move(created);
  if (selector) policy.selector = LabelSelector{*selector, {}};
  return policy;
}

TEST(SelectPolicy, MostSpecificWinsThenOldestThenName) {
  struct Case {
    const char* name;
    std::vector<HealthProbePolicy> policies;
    std::optional<std::string> expected;
    PolicyLevel level = PolicyLevel::kWorkload;
  };
  const std::vector<Case> cases = {
      {"none", {}, std::nullopt},
      {"mesh wide", {policy("istio-system", "mesh", std::nullopt)}, "mesh", PolicyLevel::kMesh},
      {"namespace over mesh",
       {policy("istio-system", "mesh", std::nullopt), policy("shop", "ns", std::nullopt)},
       "ns",
       PolicyLevel::kNamespace},
      {"selector over namespace",
       {policy("shop", "ns", std::nullopt), policy("shop", "web", Labels{{"app", "web"}})},
       "web",
       PolicyLevel::kWorkload},
      {"selector that does not match",
       {policy("shop", "ns", std::nullopt), policy("shop", "api", Labels{{"app", "api"}})},
       "ns",
       PolicyLevel::kNamespace},
      {"empty selector is namespace wide",
       {policy("shop", "empty", Labels{})},
       "empty",
       PolicyLevel::kNamespace},
      {"other namespace ignored", {policy("other", "ns", std::nullopt)}, std::nullopt},
      {"root namespace selector does not reach other namespaces",
       {policy("istio-system", "web", Labels{{"app", "web"}})},
       std::nullopt},
      {"tie: oldest",
       {policy("shop", "new", std::nullopt, "2024-06-01T00:00:00Z"),
        policy("shop", "old", std::nullopt, "2023-06-01T00:00:00Z")},
       "old",
       PolicyLevel::kNamespace},
      {"tie: same time, by name",
       {policy("shop", "b", Labels{{"app", "web"}}),
        policy("shop", "a", Labels{{"tier", "front"}})},
       "a",
       PolicyLevel::kWorkload},
  };
  for (const auto& test : cases) {
    SCOPED_TRACE(test.name);
    auto match =
        select_policy(test.policies, "istio-system", "shop", {{"app", "web"}, {"tier", "front"}});
    ASSERT_EQ(match.has_value(), test.expected.has_value());
    if (!match) continue;
    EXPECT_EQ(match->policy->name, *test.expected);
    EXPECT_EQ(match->level, test.level);
  }
}

}  // namespace
}  // namespace meshprobe::probe
