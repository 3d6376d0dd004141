#include "kube/discovery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

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

// PeerAuthentications and AuthorizationPolicies are both security.istio.io: their reflectors
// resolve at the same moment. The second caller waits for the first one's request (and the
// Retry-After of a 429 it meets) instead of sending its own.
TEST(DiscoveryTest, CallersAtTheSameMomentShareOneRequestPerDocument) {
  ::testing::StrictMock<MockKubernetesApi> api;
  Discovery discovery(api);
  std::promise<void> first_in_flight;
  std::promise<void> release;
  auto released = release.get_future().share();
  EXPECT_CALL(api, get_path("/apis/security.istio.io"))
      .WillOnce([&](const std::string&) -> ApiResult<json> {
        first_in_flight.set_value();
        released.wait();
        return kGroupBoth;
      });
  const json both_resources = json::parse(R"({"resources":[
    {"name":"peerauthentications","namespaced":true,"kind":"PeerAuthentication"},
    {"name":"authorizationpolicies","namespaced":true,"kind":"AuthorizationPolicy"}]})");
  // The second document is read by each caller after the shared first one; whether those
  // reads overlap depends on scheduling, so one or two.
  EXPECT_CALL(api, get_path("/apis/security.istio.io/v1"))
      .Times(::testing::Between(1, 2))
      .WillRepeatedly(Return(both_resources));

  auto peer_authentications = std::async(std::launch::async, [&] {
    return discovery.resource("security.istio.io", "peerauthentications", {"v1"});
  });
  first_in_flight.get_future().wait();
  auto authorization_policies = std::async(std::launch::async, [&] {
    return discovery.resource("security.istio.io", "authorizationpolicies", {"v1"});
  });
  while (discovery.waiting_for("/apis/security.istio.io") == 0) std::this_thread::yield();
  release.set_value();

  auto first = peer_authentications.get();
  auto second = authorization_policies.get();
  ASSERT_TRUE(first.ok() && first->has_value());
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*first)->kind, "PeerAuthentication");
  EXPECT_EQ((*second)->kind, "AuthorizationPolicy");
}

TEST(DiscoveryTest, AnErrorIsSharedByTheWaitersAndTheNextCallAsksAgain) {
  ::testing::StrictMock<MockKubernetesApi> api;
  Discovery discovery(api);
  ApiError throttled;
  throttled.kind = ApiErrorKind::kTooManyRequests;
  std::promise<void> first_in_flight;
  std::promise<void> release;
  auto released = release.get_future().share();
  ::testing::InSequence in_order;
  EXPECT_CALL(api, get_path("/apis/security.istio.io"))
      .WillOnce([&](const std::string&) -> ApiResult<json> {
        first_in_flight.set_value();
        released.wait();
        return throttled;
      });
  EXPECT_CALL(api, get_path("/apis/security.istio.io")).WillOnce(Return(not_found()));

  auto first = std::async(std::launch::async, [&] {
    return discovery.resource("security.istio.io", "peerauthentications", {"v1"});
  });
  first_in_flight.get_future().wait();
  auto second = std::async(std::launch::async, [&] {
    return discovery.resource("security.istio.io", "authorizationpolicies", {"v1"});
  });
  while (discovery.waiting_for("/apis/security.istio.io") == 0) std::this_thread::yield();
  release.set_value();
  EXPECT_TRUE(first.get().error().is(ApiErrorKind::kTooManyRequests));
  EXPECT_TRUE(second.get().error().is(ApiErrorKind::kTooManyRequests));

  auto later = discovery.resource("security.istio.io", "peerauthentications", {"v1"});
  ASSERT_TRUE(later.ok());
  EXPECT_FALSE(later->has_value());
}

}  // namespace
}  // namespace meshprobe::kube
