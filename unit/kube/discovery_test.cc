#include "kube/discovery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube/mocks/mock_kubernetes_api.h"

namespace meshprobe::kube {
namespace {

using nlohmann::json;
using ::testing::Return;

const json kGroupBoth = json::parse(R"({"kind":"APIGroup","name":"security.istio.io",
  "versions":[{"groupVersion":"security.istio.io/v1","version":"v1"},
              {"groupVersion":"security.istio.io/v1beta1","version":"v1beta1"}],
  "preferredVersion":{"groupVersion":"security.istio.io/v1","version":"v1"}})");
const json kResources = json::parse(R"({"kind":"APIResourceList","resources":[
  {"name":"peerauthentications","namespaced":true,"kind":"PeerAuthentication"},
  {"name":"peerauthentications/status","namespaced":true,"kind":"PeerAuthentication"}]})");

ApiError not_found() {
  ApiError error;
  error.kind = ApiErrorKind::kNotFound;
  return error;
}

TEST(DiscoveryTest, PicksTheFirstPreferredVersionTheServerServes) {
  ::testing::StrictMock<MockKubernetesApi> api;
  EXPECT_CALL(api, get_path("/apis/security.istio.io")).WillOnce(Return(kGroupBoth));
  EXPECT_CALL(api, get_path("/apis/security.istio.io/v1")).WillOnce(Return(kResources));
  auto type = discover_resource(api, "security.istio.io", "peerauthentications", {"v1", "v1beta1"});
  ASSERT_TRUE(type.ok());
  ASSERT_TRUE(type->has_value());
  EXPECT_EQ(**type, (ResourceType{"security.istio.io", "v1", "peerauthentications",
                                  "PeerAuthentication", true}));
}

TEST(DiscoveryTest, FallsBackToAnOlderVersionWhenTheNewerIsNotServed) {
  ::testing::StrictMock<MockKubernetesApi> api;
  json group = kGroupBoth;
  group["versions"] = json::array({{{"version", "v1beta1"}}});
  EXPECT_CALL(api, get_path("/apis/security.istio.io")).WillOnce(Return(group));
  EXPECT_CALL(api, get_path("/apis/security.istio.io/v1beta1")).WillOnce(Return(kResources));
  auto type = discover_resource(api, "security.istio.io", "peerauthentications", {"v1", "v1beta1"});
  EXPECT_EQ((*type)->version, "v1beta1");
}

TEST(DiscoveryTest, AGroupOrResourceThatIsNotServedIsNotAnError) {
  ::testing::StrictMock<MockKubernetesApi> api;
  EXPECT_CALL(api, get_path("/apis/security.istio.io")).WillOnce(Return(not_found()));
  auto absent = discover_resource(api, "security.istio.io", "peerauthentications", {"v1"});
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());

  EXPECT_CALL(api, get_path("/apis/security.istio.io")).WillOnce(Return(kGroupBoth));
  EXPECT_CALL(api, get_path("/apis/security.istio.io/v1")).WillOnce(Return(kResources));
  EXPECT_FALSE(
      discover_resource(api, "security.istio.io", "authorizationpolicies", {"v1"})->has_value());
}

TEST(DiscoveryTest, OtherErrorsAreReported) {
  ::testing::StrictMock<MockKubernetesApi> api;
  ApiError forbidden;
  forbidden.kind = ApiErrorKind::kForbidden;
  EXPECT_CALL(api, get_path("/apis/security.istio.io")).WillOnce(Return(forbidden));
  EXPECT_TRUE(discover_resource(api, "security.istio.io", "peerauthentications", {"v1"})
                  .error()
                  .is(ApiErrorKind::kForbidden));
}

}  // namespace
}  // namespace meshprobe::kube
