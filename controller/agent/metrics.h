// The agent's own metrics, rendered in Prometheus' text format (version 0.0.4) on /metrics.
// Probe paths are fixed at start, so the memory is bounded by the configuration; failure
// reasons and rejection reasons are small enums.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/probe_outcome.h"

namespace meshprobe::agent {

// Why a caller's request was answered without a probe, or a connection refused.
enum class Rejection {
  kNotFound,
  kMethodNotAllowed,
  kBadRequest,
  kHeaderTimeout,
  kHeaderTooLarge,
  kConnectionCap
};

std::string_view rejection_name(Rejection rejection);

class AgentMetrics {
 public:
  // Upper bounds of the latency histogram, in seconds.
  static constexpr std::array<double, 13> kLatencyBuckets{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

  explicit AgentMetrics(const std::vector<std::string>& probe_paths);

  // Ignored for a path that was not configured (the handler never probes one).
  void record_probe(const std::string& path, const ProbeOutcome& outcome,
                    std::chrono::nanoseconds duration);
  void record_rejection(Rejection rejection);
  void connection_opened() { ++open_connections_; }
  void connection_closed() { --open_connections_; }

  std::string render() const;

 private:
  struct PathMetrics {
    std::uint64_t total = 0;
    std::map<FailureReason, std::uint64_t> failures;
    std::array<std::uint64_t, kLatencyBuckets.size()> bucket_counts{};  // not cumulative
    double duration_sum_seconds = 0;
  };
  std::map<std::string, PathMetrics, std::less<>> paths_;
  std::map<Rejection, std::uint64_t> rejections_;
  std::int64_t open_connections_ = 0;
};

}  // namespace meshprobe::agent
