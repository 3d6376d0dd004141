#include "agent/grpc_health_codec.h"

namespace meshprobe::agent {
namespace {

void append_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// Reads a varint at `position`, advancing it; false when the input ends first or it is longer
// than ten bytes.
bool read_varint(std::string_view in, std::size_t& position, std::uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (position >= in.size()) return false;
    const auto byte = static_cast<std::uint8_t>(in[position++]);
    value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return true;
  }
  return false;
}

}  // namespace

std::string_view serving_status_name(ServingStatus status) {
  switch (status) {
    case ServingStatus::kUnknown:
      return "UNKNOWN";
    case ServingStatus::kServing:
      return "SERVING";
    case ServingStatus::kNotServing:
      return "NOT_SERVING";
    case ServingStatus::kServiceUnknown:
      return "SERVICE_UNKNOWN";
  }
  return "UNRECOGNIZED";
}

std::string encode_health_check_message(std::string_view service) {
  std::string message;
  if (!service.empty()) {     // proto3 leaves a default (empty) string out
    message.push_back(0x0a);  // field 1, wire type 2 (length-delimited)
    append_varint(message, service.size());
    message.append(service);
  }
  return message;
}

std::string encode_health_check_request(std::string_view service) {
  const std::string message = encode_health_check_message(service);
  std::string frame;
  frame.push_back(0);  // not compressed
  const auto length = static_cast<std::uint32_t>(message.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    frame.push_back(static_cast<char>((length >> shift) & 0xff));
  frame += message;
  return frame;
}

Result<ServingStatus> decode_health_check_response(std::string_view body) {
  if (body.size() < 5)
    return Error{"gRPC response frame is truncated (" + std::to_string(body.size()) + " bytes)"};
  if (body[0] != 0) return Error{"gRPC response is compressed, which the agent never asked for"};
  std::uint32_t length = 0;
  for (int i = 1; i <= 4; ++i) length = (length << 8) | static_cast<std::uint8_t>(body[i]);
  if (body.size() != 5 + static_cast<std::size_t>(length)) {
    return Error{"gRPC response frame says " + std::to_string(length) + " bytes but carries " +
                 std::to_string(body.size() - 5)};
  }
  return decode_health_check_message(body.substr(5));
}

Result<ServingStatus> decode_health_check_message(std::string_view message) {
  std::uint64_t status = 0;
  std::size_t position = 0;
  while (position < message.size()) {
    std::uint64_t key = 0;
    if (!read_varint(message, position, key)) return Error{"HealthCheckResponse is malformed"};
    const auto wire_type = key & 0x7;
    std::uint64_t value = 0;
    if (wire_type == 0) {
      if (!read_varint(message, position, value)) return Error{"HealthCheckResponse is malformed"};
      if ((key >> 3) == 1) status = value;
    } else if (wire_type == 2) {
      if (!read_varint(message, position, value) || value > message.size() - position) {
        return Error{"HealthCheckResponse is malformed"};
      }
      position += value;
    } else if (wire_type == 1 || wire_type == 5) {
      const std::size_t width = wire_type == 1 ? 8 : 4;
      if (message.size() - position < width) return Error{"HealthCheckResponse is malformed"};
      position += width;
    } else {
      return Error{"HealthCheckResponse has an unsupported wire type " + std::to_string(wire_type)};
    }
  }
  // Unrecognized enum values are kept as they are; only SERVING counts as healthy.
  return static_cast<ServingStatus>(status > 0xffffffffu ? 0xffffffffu : status);
}

}  // namespace meshprobe::agent
