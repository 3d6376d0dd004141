// gRPC health probe (grpc.health.v1.Health/Check) over plaintext HTTP/2, as the kubelet's
// gRPC probe: nghttp2 frames the HTTP/2 session on the agent's own event loop and
// grpc_health_codec.h encodes the two messages, so the agent carries neither gRPC's runtime
// nor its threads (docs/benchmarks.md "The agent" has the measured difference). SERVING → 200,
// anything else (another status, a gRPC error, no answer in time) → 500.
#pragma once

#include "agent/application_dialer.h"
#include "agent/asio.h"
#include "agent/probers.h"

namespace meshprobe::agent {

class Nghttp2GrpcProber final : public GrpcProber {
 public:
  // A health answer is a few bytes; anything larger is not a health answer.
  static constexpr std::size_t kMaxResponseBodyBytes = 16 * 1024;

  Nghttp2GrpcProber(asio::any_io_executor executor, Clock& clock, std::string pod_ip,
                    ApplicationDialerPtr dialer)
      : executor_(std::move(executor)),
        clock_(clock),
        pod_ip_(std::move(pod_ip)),
        dialer_(std::move(dialer)) {}

  void probe(const probe::GrpcAction& action, std::chrono::seconds timeout, std::string user_agent,
             ProbeCallback done) override;

 private:
  asio::any_io_executor executor_;
  Clock& clock_;
  std::string pod_ip_;
  ApplicationDialerPtr dialer_;
};

}  // namespace meshprobe::agent
