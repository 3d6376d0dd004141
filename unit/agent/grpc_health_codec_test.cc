#include "agent/grpc_health_codec.h"

#include <gtest/gtest.h>

namespace meshprobe::agent {
namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

TEST(EncodeHealthCheckRequest, FramesTheServiceName) {
  EXPECT_EQ(encode_health_check_request("svc"), bytes({0, 0, 0, 0, 5, 0x0a, 3, 's', 'v', 'c'}));
}

TEST(EncodeHealthCheckRequest, AnEmptyServiceIsAnEmptyMessage) {
  EXPECT_EQ(encode_health_check_request(""), bytes({0, 0, 0, 0, 0}));
}

TEST(EncodeHealthCheckRequest, LongNamesUseMultiByteLengths) {
  const std::string name(200, 'x');
  const std::string frame = encode_health_check_request(name);
  ASSERT_EQ(frame.size(), 5u + 1 + 2 + 200);
  EXPECT_EQ(frame.substr(0, 8), bytes({0, 0, 0, 0, 203, 0x0a, 0xc8, 0x01}));
}

TEST(DecodeHealthCheckResponse, ReadsEveryStatus) {
  EXPECT_EQ(*decode_health_check_response(bytes({0, 0, 0, 0, 2, 0x08, 1})),
            ServingStatus::kServing);
  EXPECT_EQ(*decode_health_check_response(bytes({0, 0, 0, 0, 2, 0x08, 2})),
            ServingStatus::kNotServing);
  EXPECT_EQ(*decode_health_check_response(bytes({0, 0, 0, 0, 2, 0x08, 3})),
            ServingStatus::kServiceUnknown);
  EXPECT_EQ(*decode_health_check_response(bytes({0, 0, 0, 0, 0})),
            ServingStatus::kUnknown);  // proto3 default
}

TEST(DecodeHealthCheckResponse, SkipsUnknownFields) {
  // field 2 (string "ab"), field 3 (fixed32), then status SERVING
  const auto body = bytes({0, 0, 0, 0, 11, 0x12, 2, 'a', 'b', 0x1d, 1, 2, 3, 4, 0x08, 1});
  EXPECT_EQ(*decode_health_check_response(body), ServingStatus::kServing);
}

TEST(DecodeHealthCheckResponse, RefusesMalformedFrames) {
  EXPECT_FALSE(decode_health_check_response(bytes({0, 0, 0})).ok());
  EXPECT_FALSE(decode_health_check_response(bytes({1, 0, 0, 0, 2, 0x08, 1})).ok());  // compressed
  EXPECT_FALSE(decode_health_check_response(bytes({0, 0, 0, 0, 3, 0x08, 1})).ok());  // short
  EXPECT_FALSE(decode_health_check_response(bytes({0, 0, 0, 0, 1, 0x08})).ok());  // value missing
  EXPECT_FALSE(
      decode_health_check_response(bytes({0, 0, 0, 0, 2, 0x12, 5})).ok());  // length past the end
  EXPECT_FALSE(
      decode_health_check_response(bytes({0, 0, 0, 0, 2, 0x0b, 0})).ok());  // group wire type
}

TEST(ServingStatusName, NamesAsGrpcDoes) {
  EXPECT_EQ(serving_status_name(ServingStatus::kNotServing), "NOT_SERVING");
  EXPECT_EQ(serving_status_name(static_cast<ServingStatus>(9)), "UNRECOGNIZED");
}

}  // namespace
}  // namespace meshprobe::agent
