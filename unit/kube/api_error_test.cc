#include "kube/api_error.h"

#include <gtest/gtest.h>

namespace meshprobe::kube {
namespace {

std::string status(int code, const std::string& reason, const std::string& details = "{}") {
  return R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"m","reason":")" +
         reason + R"(","code":)" + std::to_string(code) + R"(,"details":)" + details + "}";
}

struct Case {
  int http_status;
  std::string reason;
  ApiErrorKind kind;
};

class ErrorMappingTest : public ::testing::TestWithParam<Case> {};

TEST_P(ErrorMappingTest, MapsStatusCodeAndReasonToTheKind) {
  const Case& c = GetParam();
  ApiError error =
      error_from_response(c.http_status, status(c.http_status, c.reason), std::nullopt, "GET /x");
  EXPECT_EQ(error.kind, c.kind) << c.http_status << " " << c.reason;
  EXPECT_EQ(error.reason, c.reason);
  EXPECT_EQ(error.http_status, c.http_status);
}

INSTANTIATE_TEST_SUITE_P(
    Statuses, ErrorMappingTest,
    ::testing::Values(Case{400, "BadRequest", ApiErrorKind::kBadRequest},
                      Case{401, "Unauthorized", ApiErrorKind::kUnauthorized},
                      Case{403, "Forbidden", ApiErrorKind::kForbidden},
                      Case{404, "NotFound", ApiErrorKind::kNotFound},
                      Case{409, "AlreadyExists", ApiErrorKind::kAlreadyExists},
                      Case{409, "Conflict", ApiErrorKind::kConflict},
                      Case{410, "Expired", ApiErrorKind::kGone},
                      Case{410, "Gone", ApiErrorKind::kGone},
                      Case{422, "Invalid", ApiErrorKind::kInvalid},
                      Case{429, "TooManyRequests", ApiErrorKind::kTooManyRequests},
                      Case{500, "InternalError", ApiErrorKind::kServerError},
                      Case{503, "ServiceUnavailable", ApiErrorKind::kServerError},
                      Case{504, "Timeout", ApiErrorKind::kTimeout},
                      Case{500, "Timeout", ApiErrorKind::kTimeout}));

TEST(ApiErrorTest, InvalidCarriesItsFieldCauses) {
  ApiError error = error_from_response(
      422,
      status(
          422, "Invalid",
          R"({"name":"web","kind":"Deployment","causes":[)"
          R"({"reason":"FieldValueInvalid","message":"must be >= 0","field":"spec.replicas"}]})"),
      std::nullopt, "PUT /apis/apps/v1/namespaces/a/deployments/web");
  ASSERT_EQ(error.causes.size(), 1u);
  EXPECT_EQ(error.causes[0].field, "spec.replicas");
  EXPECT_EQ(error.causes[0].reason, "FieldValueInvalid");
  EXPECT_EQ(error.message(),
            "PUT /apis/apps/v1/namespaces/a/deployments/web: invalid (422): m; spec.replicas: "
            "must be >= 0");
}

TEST(ApiErrorTest, RetryAfterComesFromTheHeaderOrTheStatusDetails) {
  EXPECT_EQ(error_from_response(429, status(429, "TooManyRequests"), "7", "").retry_after,
            std::chrono::seconds(7));
  EXPECT_EQ(error_from_response(429, status(429, "TooManyRequests", R"({"retryAfterSeconds":3})"),
                                std::nullopt, "")
                .retry_after,
            std::chrono::seconds(3));
  EXPECT_EQ(error_from_response(429, "", "soon", "").retry_after, std::nullopt);
}

TEST(ApiErrorTest, ABodyThatIsNotAStatusIsKeptAsTheDetail) {
  ApiError error = error_from_response(502, "<html>Bad Gateway</html>", std::nullopt, "GET /x");
  EXPECT_EQ(error.kind, ApiErrorKind::kServerError);
  EXPECT_EQ(error.message(), "GET /x: server error (502): <html>Bad Gateway</html>");
}

TEST(ApiErrorTest, WatchErrorEventStatusBecomesGone) {
  ApiError error = error_from_status_object(
      R"json({"kind":"Status","code":410,"reason":"Expired","message":"too old resource version: 1 (5)"})json",
      "GET /api/v1/namespaces?watch=1");
  EXPECT_EQ(error.kind, ApiErrorKind::kGone);
  EXPECT_EQ(error.http_status, 410);
  EXPECT_EQ(error_from_status_object("[]", "").kind, ApiErrorKind::kDecode);
}

// Found by kube_watch_decoder_fuzzer: a member of the wrong type threw out of the decoder.
TEST(ApiErrorTest, StatusMembersOfTheWrongTypeAreIgnoredNotThrown) {
  EXPECT_EQ(error_from_status_object(R"({"kind":429,"details":{"retryAfterSeconds":3}})", "").kind,
            ApiErrorKind::kDecode);
  const ApiError gone = error_from_status_object(
      R"({"kind":"Status","code":410,"reason":5,"message":["x"],"details":{"causes":[{"field":1,"message":"m"}]}})",
      "");
  EXPECT_EQ(gone.kind, ApiErrorKind::kGone);
  EXPECT_EQ(gone.reason, "");
  ASSERT_EQ(gone.causes.size(), 1u);
  EXPECT_EQ(gone.causes[0].field, "");
  EXPECT_EQ(gone.causes[0].message, "m");
  EXPECT_EQ(error_from_response(500, R"({"kind":"Status","message":{}})", std::nullopt, "").kind,
            ApiErrorKind::kServerError);
}

TEST(ApiErrorTest, TransientKinds) {
  ApiError error;
  for (auto kind : {ApiErrorKind::kTransport, ApiErrorKind::kTimeout,
                    ApiErrorKind::kTooManyRequests, ApiErrorKind::kServerError}) {
    error.kind = kind;
    EXPECT_TRUE(error.transient()) << to_string(kind);
  }
  for (auto kind : {ApiErrorKind::kNotFound, ApiErrorKind::kConflict, ApiErrorKind::kInvalid,
                    ApiErrorKind::kForbidden, ApiErrorKind::kGone}) {
    error.kind = kind;
    EXPECT_FALSE(error.transient()) << to_string(kind);
  }
}

}  // namespace
}  // namespace meshprobe::kube
