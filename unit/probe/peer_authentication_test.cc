#include "probe/peer_authentication.h"

#include <gtest/gtest.h>

namespace meshprobe::probe {
namespace {

using nlohmann::json;

PeerAuthentication policy(std::string namespace_name, std::string name, MtlsMode mode,
                          Labels selector = {}, std::map<int, MtlsMode> ports = {},
                          std::string created = "2024-01-01T00:00:00Z") {
  return {std::move(namespace_name), std::move(name), std::move(created), std::move(selector), mode,
          std::move(ports)};
}

const Labels kWebLabels = {{"app", "web"}, {"version", "v1"}};

struct Case {
  const char* name;
  std::vector<PeerAuthentication> policies;
  int port;
  MtlsMode expected;
  const char* source;
};

TEST(EffectiveMtls, FollowsIstiosPrecedence) {
  using enum MtlsMode;
  const std::vector<Case> cases = {
      {"nothing: permissive", {}, 8080, kPermissive, "default, no PeerAuthentication sets a mode"},
      {"mesh",
       {policy("istio-system", "default", kStrict)},
       8080,
       kStrict,
       "PeerAuthentication istio-system/default, mesh level"},
      {"namespace over mesh",
       {policy("istio-system", "default", kStrict), policy("shop", "default", kPermissive)},
       8080,
       kPermissive,
       "PeerAuthentication shop/default, namespace level"},
      {"workload over namespace",
       {policy("shop", "default", kPermissive), policy("shop", "web", kStrict, {{"app", "web"}})},
       8080,
       kStrict,
       "PeerAuthentication shop/web, workload level"},
      {"workload selector that does not match is ignored",
       {policy("shop", "default", kDisable), policy("shop", "api", kStrict, {{"app", "api"}})},
       8080,
       kDisable,
       "PeerAuthentication shop/default, namespace level"},
      {"selector must be a subset of the labels",
       {policy("shop", "web", kStrict, {{"app", "web"}, {"tier", "front"}})},
       8080,
       kPermissive,
       "default, no PeerAuthentication sets a mode"},
      {"other namespaces are ignored",
       {policy("other", "default", kStrict)},
       8080,
       kPermissive,
       "default, no PeerAuthentication sets a mode"},
      {"selector in the root namespace is ignored",
       {policy("istio-system", "web", kStrict, {{"app", "web"}})},
       8080,
       kPermissive,
       "default, no PeerAuthentication sets a mode"},
      {"UNSET workload inherits namespace",
       {policy("shop", "default", kStrict), policy("shop", "web", kUnset, {{"app", "web"}})},
       8080,
       kStrict,
       "PeerAuthentication shop/default, namespace level"},
      {"UNSET namespace inherits mesh",
       {policy("istio-system", "default", kDisable), policy("shop", "default", kUnset)},
       8080,
       kDisable,
       "PeerAuthentication istio-system/default, mesh level"},
      {"UNSET everywhere is permissive",
       {policy("istio-system", "default", kUnset), policy("shop", "default", kUnset)},
       8080,
       kPermissive,
       "default, no PeerAuthentication sets a mode"},
      {"port level overrides the workload",
       {policy("shop", "web", kPermissive, {{"app", "web"}}, {{8080, kStrict}})},
       8080,
       kStrict,
       "PeerAuthentication shop/web, port 8080"},
      {"port level for another port does not apply",
       {policy("shop", "web", kPermissive, {{"app", "web"}}, {{9090, kStrict}})},
       8080,
       kPermissive,
       "PeerAuthentication shop/web, workload level"},
      {"UNSET port inherits the workload's effective mode",
       {policy("istio-system", "default", kStrict),
        policy("shop", "web", kUnset, {{"app", "web"}}, {{8080, kUnset}})},
       8080,
       kStrict,
       "PeerAuthentication istio-system/default, mesh level"},
      {"port level of a namespace policy is ignored, as in Istio",
       {policy("shop", "default", kPermissive, {}, {{8080, kStrict}})},
       8080,
       kPermissive,
       "PeerAuthentication shop/default, namespace level"},
      {"ties: the oldest wins",
       {policy("shop", "new", kStrict, {}, {}, "2024-05-01T00:00:00Z"),
        policy("shop", "old", kDisable, {}, {}, "2023-05-01T00:00:00Z")},
       8080,
       kDisable,
       "PeerAuthentication shop/old, namespace level"},
      {"ties at the same second: by name",
       {policy("shop", "b", kStrict, {{"app", "web"}}),
        policy("shop", "a", kDisable, {{"version", "v1"}})},
       8080,
       kDisable,
       "PeerAuthentication shop/a, workload level"},
  };
  for (const auto& test : cases) {
    SCOPED_TRACE(test.name);
    auto mtls = effective_mtls(test.policies, "istio-system", "shop", kWebLabels);
    EXPECT_EQ(mtls.for_port(test.port).mode, test.expected);
    EXPECT_EQ(mtls.for_port(test.port).source, test.source);
  }
}

TEST(EffectiveMtls, WorkloadInTheRootNamespaceUsesItsPolicyAsNamespaceWide) {
  std::vector<PeerAuthentication> policies = {policy("istio-system", "default", MtlsMode::kStrict)};
  EXPECT_EQ(effective_mtls(policies, "istio-system", "istio-system", {}).workload.mode,
            MtlsMode::kStrict);
}

TEST(ParsePeerAuthentication, ReadsV1AndV1beta1Objects) {
  for (const char* api_version : {"security.istio.io/v1", "security.istio.io/v1beta1"}) {
    const json object = {
        {"apiVersion", api_version},
        {"kind", "PeerAuthentication"},
        {"metadata",
         {{"name", "web"}, {"namespace", "shop"}, {"creationTimestamp", "2024-01-02T03:04:05Z"}}},
        {"spec",
         {{"selector", {{"matchLabels", {{"app", "web"}}}}},
          {"mtls", {{"mode", "STRICT"}}},
          {"portLevelMtls", {{"8080", {{"mode", "DISABLE"}}}, {"9090", json::object()}}}}}};
    auto parsed = parse_peer_authentication(object);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(*parsed, policy("shop", "web", MtlsMode::kStrict, {{"app", "web"}},
                              {{8080, MtlsMode::kDisable}, {9090, MtlsMode::kUnset}},
                              "2024-01-02T03:04:05Z"));
  }
}

TEST(ParsePeerAuthentication, EmptySpecIsAnUnsetNamespacePolicy) {
  auto parsed =
      parse_peer_authentication({{"metadata", {{"name", "default"}, {"namespace", "shop"}}}});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->mode, MtlsMode::kUnset);
  EXPECT_TRUE(parsed->match_labels.empty());
}

TEST(ParsePeerAuthentication, ErrorsNameTheField) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"spec", json::object()}}, "metadata: must be an object"},
      {{{"metadata", {{"name", "x"}}}, {"spec", {{"mtls", {{"mode", "STRICTER"}}}}}},
       "spec.mtls.mode: must be UNSET, DISABLE, PERMISSIVE or STRICT, got \"STRICTER\""},
      {{{"metadata", {{"name", "x"}}},
        {"spec", {{"portLevelMtls", {{"80x", {{"mode", "STRICT"}}}}}}}},
       "spec.portLevelMtls.80x: port must be an integer in 1..65535"},
      {{{"metadata", {{"name", "x"}}},
        {"spec", {{"portLevelMtls", {{"0", {{"mode", "STRICT"}}}}}}}},
       "spec.portLevelMtls.0: port must be an integer in 1..65535"},
      {{{"metadata", {{"name", "x"}}}, {"spec", {{"selector", {{"matchLabels", {{"app", 1}}}}}}}},
       "spec.selector.matchLabels.app: must be a string, got 1"},
  };
  for (const auto& [object, error] : cases) {
    auto parsed = parse_peer_authentication(object);
    ASSERT_FALSE(parsed.ok()) << object.dump();
    EXPECT_EQ(parsed.error().message, error);
  }
}

}  // namespace
}  // namespace meshprobe::probe
