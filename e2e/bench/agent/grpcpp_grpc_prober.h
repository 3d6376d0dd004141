// The alternative weighed for the agent's gRPC health check: gRPC's own C++ library (a
// generic stub, so no generated code; the same hand-encoded messages). Built for the benchmark
// only, to measure what it would cost every pod (docs/benchmarks.md "The agent").
#pragma once

#include "agent/asio.h"
#include "agent/probers.h"

namespace meshprobe::agent {

class GrpcppGrpcProber final : public GrpcProber {
 public:
  GrpcppGrpcProber(asio::any_io_executor executor, std::string pod_ip)
      : executor_(std::move(executor)), pod_ip_(std::move(pod_ip)) {}

  void probe(const probe::GrpcAction& action, std::chrono::seconds timeout, std::string user_agent,
             ProbeCallback done) override;

 private:
  asio::any_io_executor executor_;
  std::string pod_ip_;
};

}  // namespace meshprobe::agent
