// The two messages of grpc.health.v1.Health/Check, encoded by hand: the agent speaks gRPC
// over nghttp2 without protobuf or gRPC's runtime (docs/decisions.md "The agent" says why).
//   message HealthCheckRequest  { string service = 1; }
//   message HealthCheckResponse { ServingStatus status = 1; }  // UNKNOWN=0 SERVING=1 NOT_SERVING=2
//   SERVICE_UNKNOWN=3
// On the wire each message is a gRPC length-prefixed frame: 1 byte compressed flag, 4 bytes
// big-endian length, the protobuf bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "probe/result.h"

namespace meshprobe::agent {

inline constexpr std::string_view kGrpcHealthCheckPath = "/grpc.health.v1.Health/Check";

enum class ServingStatus : std::uint32_t {
  kUnknown = 0,
  kServing = 1,
  kNotServing = 2,
  kServiceUnknown = 3
};

std::string_view serving_status_name(ServingStatus status);

// The request frame for `service` ("" asks for the server as a whole).
std::string encode_health_check_request(std::string_view service);
// The same without the gRPC frame: the protobuf bytes alone.
std::string encode_health_check_message(std::string_view service);

// The status from a response body (exactly one uncompressed frame); fields it does not know
// are skipped, as protobuf requires. An error for a truncated or compressed frame.
Result<ServingStatus> decode_health_check_response(std::string_view body);
// The same for the protobuf bytes alone.
Result<ServingStatus> decode_health_check_message(std::string_view message);

}  // namespace meshprobe::agent
