// meshprobe-agent-grpcpp: meshprobe-agent with gRPC health checks made by gRPC's C++ library
// instead of nghttp2. For the benchmark's memory comparison only; never shipped.
#include "agent/run_agent.h"
#include "grpcpp_grpc_prober.h"

int main(int argc, char** argv) {
  using namespace meshprobe::agent;
  return run_agent(argc, argv,
                   [](const asio::any_io_executor& executor, Clock& clock,
                      const std::string& pod_ip, Logger& logger) {
                     ProberSet probers = make_network_probers(executor, clock, pod_ip, logger);
                     probers.grpc = std::make_unique<GrpcppGrpcProber>(executor, pod_ip);
                     return probers;
                   });
}
