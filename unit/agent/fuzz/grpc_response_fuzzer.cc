// libFuzzer: whatever bytes a gRPC server answers, decoding ends with a status or an error.
#include <cstdint>
#include <string_view>

#include "agent/grpc_health_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)meshprobe::agent::decode_health_check_response(body);
  (void)meshprobe::agent::decode_health_check_message(body);
  return 0;
}
