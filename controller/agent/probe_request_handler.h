// The agent's routes: the configured probe paths (each probed afresh, never cached),
// /healthz/ready and /metrics; anything else is 404 and nothing is forwarded. Records metrics
// and writes one log line per failed probe.
#pragma once

#include "agent/clock.h"
#include "agent/logger.h"
#include "agent/metrics.h"
#include "agent/probers.h"
#include "agent/request_handler.h"
#include "probe/app_probers.h"

namespace meshprobe::agent {

inline constexpr std::string_view kReadyPath = "/healthz/ready";
inline constexpr std::string_view kMetricsPath = "/metrics";

struct Probers {
  HttpProber& http;
  TcpProber& tcp;
  GrpcProber& grpc;
};

class ProbeRequestHandler final : public RequestHandler {
 public:
  ProbeRequestHandler(const probe::AppProbers& probers, Probers probe_with, AgentMetrics& metrics,
                      Logger& logger, const Clock& clock)
      : probers_(probers),
        probe_with_(probe_with),
        metrics_(metrics),
        logger_(logger),
        clock_(clock) {}

  void handle(const IncomingRequest& request, ReplyCallback reply) override;

 private:
  void start_probe(const std::string& path, const probe::AppProber& prober,
                   const std::string& user_agent, ReplyCallback reply);

  const probe::AppProbers& probers_;
  Probers probe_with_;
  AgentMetrics& metrics_;
  Logger& logger_;
  const Clock& clock_;
};

}  // namespace meshprobe::agent
