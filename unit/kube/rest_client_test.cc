#include "kube/rest_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "kube/fake_clock.h"
#include "kube/mocks/mock_transport.h"

namespace meshprobe::kube {
namespace {

using nlohmann::json;
using ::testing::_;
using ::testing::AllOf;
using ::testing::ByMove;
using ::testing::Field;
using ::testing::Return;

HttpResponse respond(int status, const std::string& body,
                     std::map<std::string, std::string> headers = {}) {
  return HttpResponse{status, std::move(headers), body};
}

MATCHER_P2(IsRequest, method, target, "") { return arg.method == method && arg.target == target; }

class RestClientTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  MetricsRegistry metrics_;
  ::testing::StrictMock<MockTransport> transport_;
  RestClient client_{transport_, RestClientOptions{}, clock_, metrics_};
};

TEST_F(RestClientTest, GetBuildsThePathAndDecodesTheObject) {
  EXPECT_CALL(transport_, send(IsRequest("GET", "/apis/apps/v1/namespaces/shop/deployments/web")))
      .WillOnce(Return(respond(200, R"({"kind":"Deployment","metadata":{"name":"web"}})")));
  auto object = client_.get(resources::kDeployments, "shop", "web", "");
  ASSERT_TRUE(object.ok());
  EXPECT_EQ((*object)["metadata"]["name"], "web");
  EXPECT_EQ(
      metrics_.counter("rest_client_requests_total", "").labels({"200", "GET", "none"}).value(),
      1.0);
}

TEST_F(RestClientTest, NotFoundIsATypedError) {
  EXPECT_CALL(transport_, send(_))
      .WillOnce(Return(respond(404, R"({"kind":"Status","code":404,"reason":"NotFound",)"
                                    R"("message":"deployments.apps \"web\" not found"})")));
  auto object = client_.get(resources::kDeployments, "shop", "web", "");
  ASSERT_FALSE(object.ok());
  EXPECT_TRUE(object.error().is(ApiErrorKind::kNotFound));
  EXPECT_EQ(object.error().message(),
            "GET /apis/apps/v1/namespaces/shop/deployments/web: not found (404): "
            "deployments.apps \"web\" not found");
}

TEST_F(RestClientTest, ListPassesPagingAndSelectorsAndReadsTheContinueToken) {
  EXPECT_CALL(transport_,
              send(IsRequest("GET",
                             "/api/v1/namespaces?labelSelector=team%3Dshop%2Ctier%21%3Dweb&limit=2"
                             "&continue=abc")))
      .WillOnce(Return(respond(
          200,
          R"({"metadata":{"resourceVersion":"42","continue":"def"},"items":[{"a":1},{"a":2}]})")));
  ListOptions options;
  options.label_selector = "team=shop,tier!=web";
  options.limit = 2;
  options.continue_token = "abc";
  auto list = client_.list(resources::kNamespaces, "", options);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->resource_version, "42");
  EXPECT_EQ(list->continue_token, "def");
  EXPECT_EQ(list->items.size(), 2u);
}

TEST_F(RestClientTest, ListAllPagesFollowsContinueTokens) {
  EXPECT_CALL(transport_, send(IsRequest("GET", "/api/v1/namespaces/a/configmaps?limit=1")))
      .WillOnce(Return(respond(
          200, R"({"metadata":{"resourceVersion":"7","continue":"t1"},"items":[{"n":1}]})")));
  EXPECT_CALL(transport_,
              send(IsRequest("GET", "/api/v1/namespaces/a/configmaps?limit=1&continue=t1")))
      .WillOnce(Return(respond(200, R"({"metadata":{"resourceVersion":"7"},"items":[{"n":2}]})")));
  std::vector<int> seen;
  auto version = list_all_pages(client_, resources::kConfigMaps, "a", {}, 1,
                                [&](json item) { seen.push_back(item["n"].get<int>()); });
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, "7");
  EXPECT_EQ(seen, (std::vector<int>{1, 2}));
}

TEST_F(RestClientTest, AnExpiredContinueTokenRestartsWithAFullList) {
  EXPECT_CALL(transport_, send(IsRequest("GET", "/api/v1/namespaces?limit=1")))
      .WillOnce(Return(respond(
          200, R"({"metadata":{"resourceVersion":"7","continue":"t1"},"items":[{"n":1}]})")));
  EXPECT_CALL(transport_, send(IsRequest("GET", "/api/v1/namespaces?limit=1&continue=t1")))
      .WillOnce(Return(respond(410, R"({"kind":"Status","code":410,"reason":"Expired"})")));
  EXPECT_CALL(transport_, send(IsRequest("GET", "/api/v1/namespaces")))
      .WillOnce(Return(
          respond(200, R"({"metadata":{"resourceVersion":"9"},"items":[{"n":1},{"n":2}]})")));
  std::vector<int> seen;
  int restarts = 0;
  auto version = list_all_pages(
      client_, resources::kNamespaces, "", {}, 1, [&](json item) { seen.push_back(item["n"]); },
      [&] {
        ++restarts;
        seen.clear();
      });
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, "9");
  EXPECT_EQ(restarts, 1);
  EXPECT_EQ(seen, (std::vector<int>{1, 2}));
}

TEST_F(RestClientTest, ServerSideApplySendsTheFieldManagerAndForce) {
  EXPECT_CALL(
      transport_,
      send(AllOf(
          IsRequest("PATCH",
                    "/apis/apps/v1/namespaces/shop/deployments/web?fieldManager="
                    "meshprobe&force=true"),
          Field(&HttpRequest::content_type, "application/apply-patch+yaml"),
          Field(&HttpRequest::body,
                R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"}})"))))
      .WillOnce(Return(respond(200, "{}")));
  json object = {
      {"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"metadata", {{"name", "web"}}}};
  EXPECT_TRUE(apply(client_, resources::kDeployments, "shop", object, "meshprobe", true).ok());
  EXPECT_EQ(
      metrics_.counter("rest_client_requests_total", "").labels({"200", "PATCH", "none"}).value(),
      1.0);
}

TEST_F(RestClientTest, ApplyConflictCarriesTheConflictingManagers) {
  EXPECT_CALL(transport_, send(_))
      .WillOnce(Return(respond(
          409,
          R"({"kind":"Status","code":409,"reason":"Conflict",)"
          R"("message":"Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas",)"
          R"("details":{"causes":[{"reason":"FieldManagerConflict",)"
          R"("message":"conflict with \"kubectl\"","field":".spec.replicas"}]}})")));
  auto result = apply(client_, resources::kDeployments, "shop",
                      json{{"metadata", {{"name", "web"}}}}, "meshprobe");
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(result.error().is(ApiErrorKind::kConflict));
  ASSERT_EQ(result.error().causes.size(), 1u);
  EXPECT_EQ(result.error().causes[0].reason, "FieldManagerConflict");
}

TEST_F(RestClientTest, ApplyWithoutAFieldManagerIsRefusedBeforeSending) {
  auto result = client_.patch(resources::kDeployments, "a", "b", PatchType::kApply, "{}", {});
  EXPECT_TRUE(result.error().is(ApiErrorKind::kBadRequest));
}

TEST_F(RestClientTest, PatchTypesUseTheirContentTypes) {
  EXPECT_CALL(transport_, send(Field(&HttpRequest::content_type, "application/merge-patch+json")))
      .WillOnce(Return(respond(200, "{}")));
  EXPECT_CALL(transport_,
              send(AllOf(Field(&HttpRequest::content_type, "application/json-patch+json"),
                         IsRequest("PATCH", "/apis/apps/v1/namespaces/a/deployments/b/status"))))
      .WillOnce(Return(respond(200, "{}")));
  EXPECT_TRUE(client_.patch(resources::kDeployments, "a", "b", PatchType::kMerge, "{}", {}).ok());
  PatchOptions status;
  status.subresource = "status";
  EXPECT_TRUE(
      client_.patch(resources::kDeployments, "a", "b", PatchType::kJson, "[]", status).ok());
}

TEST_F(RestClientTest, AWriteCanReadOnlyTheMetadataOfItsAnswer) {
  const std::string served =
      R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","resourceVersion":"42",)"
      R"("managedFields":[{"manager":"meshprobe","fieldsV1":{"f:spec":{}}}],"labels":{"app":"web"}},)"
      R"("spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"managedFields"}]}]}}},)"
      R"("status":{"conditions":[{"type":"Available","status":"True"}]}})";
  EXPECT_CALL(transport_, send(_)).Times(4).WillRepeatedly(Return(respond(200, served)));
  PatchOptions metadata_only;
  metadata_only.response = ResponseFields::kMetadata;
  const json expected = {
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", {{"name", "web"}, {"resourceVersion", "42"}, {"labels", {{"app", "web"}}}}}};
  EXPECT_EQ(
      client_.patch(resources::kDeployments, "a", "web", PatchType::kJson, "[]", metadata_only)
          .value(),
      expected);
  EXPECT_EQ(apply(client_, resources::kDeployments, "a", json{{"metadata", {{"name", "web"}}}},
                  "mp", true, "status", ResponseFields::kMetadata)
                .value(),
            expected);
  WriteOptions write;
  write.response = ResponseFields::kMetadata;
  EXPECT_EQ(client_.create(resources::kDeployments, "a", json::object(), write).value(), expected);
  // By default the whole answer.
  EXPECT_EQ(client_.patch(resources::kDeployments, "a", "web", PatchType::kJson, "[]", {}).value(),
            json::parse(served));
}

TEST_F(RestClientTest, AnAnswerThatIsNotAnObjectIsADecodeErrorAlsoForMetadataOnly) {
  EXPECT_CALL(transport_, send(_)).WillOnce(Return(respond(200, "[1,2")));
  PatchOptions metadata_only;
  metadata_only.response = ResponseFields::kMetadata;
  EXPECT_TRUE(
      client_.patch(resources::kDeployments, "a", "web", PatchType::kJson, "[]", metadata_only)
          .error()
          .is(ApiErrorKind::kDecode));
}

TEST_F(RestClientTest, CreateUpdateAndDeleteWithPreconditions) {
  EXPECT_CALL(transport_,
              send(AllOf(IsRequest("POST", "/api/v1/namespaces/a/configmaps?fieldManager=mp"),
                         Field(&HttpRequest::content_type, "application/json"))))
      .WillOnce(Return(respond(201, R"({"metadata":{"name":"c"}})")));
  EXPECT_CALL(transport_, send(IsRequest("PUT", "/api/v1/namespaces/a/configmaps/c")))
      .WillOnce(Return(respond(409, R"({"kind":"Status","code":409,"reason":"Conflict"})")));
  EXPECT_CALL(
      transport_,
      send(AllOf(
          IsRequest("DELETE", "/api/v1/namespaces/a/configmaps/c"),
          Field(
              &HttpRequest::body,
              R"({"apiVersion":"v1","kind":"DeleteOptions","preconditions":{"resourceVersion":"5"}})"))))
      .WillOnce(Return(respond(200, "{}")));
  WriteOptions write;
  write.field_manager = "mp";
  EXPECT_TRUE(
      client_.create(resources::kConfigMaps, "a", json{{"metadata", {{"name", "c"}}}}, write).ok());
  EXPECT_TRUE(client_.update(resources::kConfigMaps, "a", json{{"metadata", {{"name", "c"}}}}, {})
                  .error()
                  .is(ApiErrorKind::kConflict));
  DeleteOptions remove;
  remove.precondition_resource_version = "5";
  EXPECT_TRUE(client_.remove(resources::kConfigMaps, "a", "c", remove).ok());
}

TEST_F(RestClientTest, AlreadyExistsIsDistinctFromConflict) {
  EXPECT_CALL(transport_, send(_))
      .WillOnce(Return(respond(409, R"({"kind":"Status","code":409,"reason":"AlreadyExists"})")));
  EXPECT_TRUE(client_.create(resources::kConfigMaps, "a", json::object(), {})
                  .error()
                  .is(ApiErrorKind::kAlreadyExists));
}

TEST_F(RestClientTest, TooManyRequestsIsRetriedAfterRetryAfter) {
  std::atomic<int> calls{0};
  EXPECT_CALL(transport_, send(_))
      .WillOnce([&](const HttpRequest&) {
        ++calls;
        return ApiResult<HttpResponse>(
            respond(429, R"({"kind":"Status","code":429,"reason":"TooManyRequests"})",
                    {{"retry-after", "2"}}));
      })
      .WillOnce([&](const HttpRequest&) {
        ++calls;
        return ApiResult<HttpResponse>(respond(200, "{}"));
      });
  ApiResult<json> result = ApiError{};
  std::thread caller([&] { result = client_.get(resources::kNamespaces, "", "a", ""); });
  ASSERT_TRUE(clock_.wait_for_pending_timers(1));
  EXPECT_EQ(calls.load(), 1);
  clock_.advance(std::chrono::milliseconds(1999));
  EXPECT_EQ(calls.load(), 1);
  clock_.advance(std::chrono::milliseconds(1));
  caller.join();
  EXPECT_TRUE(result.ok());
}

TEST_F(RestClientTest, TooManyRequestsGivesUpAfterTheRetriesWithRetryAfterInTheError) {
  RestClientOptions options;
  options.maximum_retries = 0;
  RestClient client(transport_, options, clock_, metrics_);
  EXPECT_CALL(transport_, send(_)).WillOnce(Return(respond(429, "{}", {{"retry-after", "5"}})));
  auto result = client.get(resources::kNamespaces, "", "a", "");
  EXPECT_TRUE(result.error().is(ApiErrorKind::kTooManyRequests));
  EXPECT_EQ(result.error().retry_after, std::chrono::seconds(5));
}

TEST_F(RestClientTest, TransportErrorsNameTheRequest) {
  ApiError refused;
  refused.kind = ApiErrorKind::kTransport;
  refused.detail = "connection refused";
  EXPECT_CALL(transport_, send(_)).WillOnce(Return(refused));
  auto result = client_.get(resources::kNamespaces, "", "a", "");
  EXPECT_EQ(result.error().message(),
            "GET /api/v1/namespaces/a: transport error: connection refused");
  EXPECT_EQ(
      metrics_.counter("rest_client_requests_total", "").labels({"<error>", "GET", "none"}).value(),
      1.0);
}

TEST_F(RestClientTest, RateLimitHoldsRequestsBeyondTheBurst) {
  RestClientOptions options;
  options.queries_per_second = 1;
  options.burst = 1;
  RestClient client(transport_, options, clock_, metrics_);
  std::atomic<int> calls{0};
  EXPECT_CALL(transport_, send(_)).Times(2).WillRepeatedly([&](const HttpRequest&) {
    ++calls;
    return ApiResult<HttpResponse>(respond(200, "{}"));
  });
  EXPECT_TRUE(client.get(resources::kNamespaces, "", "a", "").ok());
  std::thread caller([&] { client.get(resources::kNamespaces, "", "b", ""); });
  ASSERT_TRUE(clock_.wait_for_pending_timers(1));
  EXPECT_EQ(calls.load(), 1);
  clock_.advance(std::chrono::seconds(1));
  caller.join();
  EXPECT_EQ(calls.load(), 2);
}

TEST_F(RestClientTest, StopInterruptsAWaitAndFailsLaterCalls) {
  RestClientOptions options;
  options.queries_per_second = 1;
  options.burst = 1;
  RestClient client(transport_, options, clock_, metrics_);
  EXPECT_CALL(transport_, send(_)).WillOnce(Return(respond(200, "{}")));
  EXPECT_TRUE(client.get(resources::kNamespaces, "", "a", "").ok());
  ApiResult<json> result = json::object();
  std::thread caller([&] { result = client.get(resources::kNamespaces, "", "b", ""); });
  ASSERT_TRUE(clock_.wait_for_pending_timers(1));
  client.stop();
  caller.join();
  EXPECT_TRUE(result.error().is(ApiErrorKind::kStopped));
}

// client-go's meaning of the rest_client_* metrics (rest/request.go, with_retry.go;
// controller-runtime's pkg/metrics/client_go_adapter.go): labels code, method (the HTTP method)
// and host; every attempt counts in requests_total, attempts after the first also in
// request_retries_total; the duration is observed once per call, retries included.
TEST_F(RestClientTest, MetricsMeanWhatClientGosMean) {
  RestClientOptions options;
  options.host = "10.0.0.1:6443";
  RestClient client(transport_, options, clock_, metrics_);
  EXPECT_CALL(transport_, send(_))
      .WillOnce([&](const HttpRequest&) {
        clock_.advance(std::chrono::milliseconds(100));
        return ApiResult<HttpResponse>(respond(429, "{}", {{"retry-after", "1"}}));
      })
      .WillOnce(Return(respond(200, "{}")));
  ApiResult<json> result = ApiError{};
  std::thread caller([&] {
    result = client.patch(resources::kDeployments, "shop", "web", PatchType::kMerge, "{}", {});
  });
  ASSERT_TRUE(clock_.wait_for_pending_timers(1));
  clock_.advance(std::chrono::seconds(1));
  caller.join();
  ASSERT_TRUE(result.ok());
  auto requests = [&](const std::string& code) {
    return metrics_.counter("rest_client_requests_total", "")
        .labels({code, "PATCH", "10.0.0.1:6443"})
        .value();
  };
  EXPECT_EQ(requests("429"), 1.0);
  EXPECT_EQ(requests("200"), 1.0);
  EXPECT_EQ(metrics_.counter("rest_client_request_retries_total", "")
                .labels({"200", "PATCH", "10.0.0.1:6443"})
                .value(),
            1.0);
  auto duration = metrics_.histogram("rest_client_request_duration_seconds", "")
                      .labels({"PATCH", "10.0.0.1:6443"})
                      .snapshot();
  EXPECT_EQ(duration.count, 1u) << "once per call, not per attempt";
  EXPECT_DOUBLE_EQ(duration.sum, 1.1);
  EXPECT_EQ(metrics_.histogram("rest_client_rate_limiter_duration_seconds", "")
                .labels({"PATCH", "10.0.0.1:6443"})
                .snapshot()
                .count,
            2u)
      << "every wait for the limiter";
}

// Issue 17: once fenced (the Lease lost, or stopping), not one write is sent; reads go on.
TEST_F(RestClientTest, AFencedClientRefusesWritesAndStillReads) {
  client_.fence_writes("this replica stopped leading (Lease meshprobe-system/meshprobe)");
  EXPECT_CALL(transport_, send(IsRequest("GET", "/api/v1/namespaces/a")))
      .WillOnce(Return(respond(200, "{}")));
  EXPECT_TRUE(client_.get(resources::kNamespaces, "", "a", "").ok());
  auto patched = client_.patch(resources::kDeployments, "shop", "web", PatchType::kJson, "[]", {});
  ASSERT_FALSE(patched.ok());
  EXPECT_TRUE(patched.error().is(ApiErrorKind::kFenced));
  EXPECT_EQ(patched.error().message(),
            "PATCH /apis/apps/v1/namespaces/shop/deployments/web: fenced: write refused, not "
            "sent: this replica stopped leading (Lease meshprobe-system/meshprobe)");
  EXPECT_FALSE(client_.create(resources::kNamespaces, "", json::object(), {}).ok());
  EXPECT_FALSE(
      client_.update(resources::kNamespaces, "", {{"metadata", {{"name", "a"}}}}, {}).ok());
  EXPECT_FALSE(client_.remove(resources::kNamespaces, "", "a", {}).ok());
  auto fenced = [&](const std::string& method) {
    return metrics_.counter("meshprobe_fenced_writes_total", "").labels({method}).value();
  };
  EXPECT_EQ(fenced("PATCH"), 1.0);
  EXPECT_EQ(fenced("POST"), 1.0);
  EXPECT_EQ(fenced("PUT"), 1.0);
  EXPECT_EQ(fenced("DELETE"), 1.0);
  EXPECT_TRUE(client_.writes_fenced());
}

TEST_F(RestClientTest, AWriteWaitingForTheRateLimitIsRefusedWhenTheFenceCloses) {
  RestClientOptions options;
  options.queries_per_second = 1;
  options.burst = 1;
  RestClient client(transport_, options, clock_, metrics_);
  EXPECT_CALL(transport_, send(IsRequest("GET", "/api/v1/namespaces/a")))
      .WillOnce(Return(respond(200, "{}")));
  EXPECT_TRUE(client.get(resources::kNamespaces, "", "a", "").ok());
  ApiResult<json> result = json::object();
  std::thread caller([&] {
    result = client.patch(resources::kDeployments, "shop", "web", PatchType::kJson, "[]", {});
  });
  ASSERT_TRUE(clock_.wait_for_pending_timers(1));
  client.fence_writes("stopping");
  clock_.advance(std::chrono::seconds(1));
  caller.join();
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(result.error().is(ApiErrorKind::kFenced));
}

TEST_F(RestClientTest, WatchAsksForBookmarksFromAVersionAndDecodesTheStream) {
  auto body = std::make_unique<MockBodyStream>();
  EXPECT_CALL(*body, read())
      .WillOnce(Return(ApiResult<std::string>(
          std::string(
              R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"6"}}})") +
          "\n")))
      .WillOnce(Return(ApiResult<std::string>(std::string())));
  StreamingResponse response;
  response.status = 200;
  response.body = std::move(body);
  EXPECT_CALL(transport_, open_stream(IsRequest("GET",
                                                "/api/v1/namespaces?watch=1&resourceVersion=5&"
                                                "allowWatchBookmarks=true&timeoutSeconds=300")))
      .WillOnce(Return(ByMove(ApiResult<StreamingResponse>(std::move(response)))));
  WatchOptions options;
  options.resource_version = "5";
  options.timeout_seconds = 300;
  auto stream = client_.watch(resources::kNamespaces, "", options);
  ASSERT_TRUE(stream.ok());
  auto event = stream.value()->next();
  ASSERT_TRUE(event.ok());
  EXPECT_EQ((*event)->object["metadata"]["resourceVersion"], "6");
  EXPECT_FALSE(stream.value()->next()->has_value());
}

TEST_F(RestClientTest, WatchRefusedWithGoneIsATypedError) {
  StreamingResponse response;
  response.status = 410;
  response.error_body = R"({"kind":"Status","code":410,"reason":"Expired","message":"too old"})";
  EXPECT_CALL(transport_, open_stream(_))
      .WillOnce(Return(ByMove(ApiResult<StreamingResponse>(std::move(response)))));
  auto stream = client_.watch(resources::kNamespaces, "", {});
  EXPECT_TRUE(stream.error().is(ApiErrorKind::kGone));
}

}  // namespace
}  // namespace meshprobe::kube
