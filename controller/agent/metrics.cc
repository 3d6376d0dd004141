#include "agent/metrics.h"

#include <cstdio>

namespace meshprobe::agent {
namespace {

// Label values are configured paths (no quotes or backslashes survive prober-path parsing),
// but escape anyway: the exposition format must never break.
std::string label_value(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.9g", value);
  return buffer;
}

}  // namespace

std::string_view rejection_name(Rejection rejection) {
  switch (rejection) {
    case Rejection::kNotFound:
      return "not_found";
    case Rejection::kMethodNotAllowed:
      return "method_not_allowed";
    case Rejection::kBadRequest:
      return "bad_request";
    case Rejection::kHeaderTimeout:
      return "header_timeout";
    case Rejection::kHeaderTooLarge:
      return "header_too_large";
    case Rejection::kConnectionCap:
      return "connection_cap";
  }
  return "unknown";
}

AgentMetrics::AgentMetrics(const std::vector<std::string>& probe_paths) {
  for (const auto& path : probe_paths) paths_[path];
}

void AgentMetrics::record_probe(const std::string& path, const ProbeOutcome& outcome,
                                std::chrono::nanoseconds duration) {
  auto it = paths_.find(path);
  if (it == paths_.end()) return;
  auto& metrics = it->second;
  ++metrics.total;
  if (!outcome.succeeded()) ++metrics.failures[outcome.reason];
  const double seconds = std::chrono::duration<double>(duration).count();
  metrics.duration_sum_seconds += seconds;
  for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    if (seconds <= kLatencyBuckets[i]) {
      ++metrics.bucket_counts[i];
      break;
    }
  }
}

void AgentMetrics::record_rejection(Rejection rejection) { ++rejections_[rejection]; }

std::string AgentMetrics::render() const {
  std::string out;
  out += "# HELP meshprobe_agent_probes_total Probes of the application, by probe path.\n";
  out += "# TYPE meshprobe_agent_probes_total counter\n";
  for (const auto& [path, metrics] : paths_) {
    out += "meshprobe_agent_probes_total{path=\"" + label_value(path) + "\"} " +
           std::to_string(metrics.total) + "\n";
  }
  out += "# HELP meshprobe_agent_probe_failures_total Failed probes, by probe path and reason.\n";
  out += "# TYPE meshprobe_agent_probe_failures_total counter\n";
  for (const auto& [path, metrics] : paths_) {
    for (const auto& [reason, count] : metrics.failures) {
      out += "meshprobe_agent_probe_failures_total{path=\"" + label_value(path) + "\",reason=\"" +
             std::string(reason_name(reason)) + "\"} " + std::to_string(count) + "\n";
    }
  }
  out +=
      "# HELP meshprobe_agent_probe_duration_seconds Time to probe the application, by probe "
      "path.\n";
  out += "# TYPE meshprobe_agent_probe_duration_seconds histogram\n";
  for (const auto& [path, metrics] : paths_) {
    const std::string labels = "path=\"" + label_value(path) + "\"";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
      cumulative += metrics.bucket_counts[i];
      out += "meshprobe_agent_probe_duration_seconds_bucket{" + labels + ",le=\"" +
             number(kLatencyBuckets[i]) + "\"} " + std::to_string(cumulative) + "\n";
    }
    out += "meshprobe_agent_probe_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} " +
           std::to_string(metrics.total) + "\n";
    out += "meshprobe_agent_probe_duration_seconds_sum{" + labels + "} " +
           number(metrics.duration_sum_seconds) + "\n";
    out += "meshprobe_agent_probe_duration_seconds_count{" + labels + "} " +
           std::to_string(metrics.total) + "\n";
  }
  out +=
      "# HELP meshprobe_agent_rejected_total Requests and connections answered without a probe, by "
      "reason.\n";
  out += "# TYPE meshprobe_agent_rejected_total counter\n";
  for (const auto& [rejection, count] : rejections_) {
    out += "meshprobe_agent_rejected_total{reason=\"" + std::string(rejection_name(rejection)) +
           "\"} " + std::to_string(count) + "\n";
  }
  out += "# HELP meshprobe_agent_open_connections Connections from callers open now.\n";
  out += "# TYPE meshprobe_agent_open_connections gauge\n";
  out += "meshprobe_agent_open_connections " + std::to_string(open_connections_) + "\n";
  return out;
}

}  // namespace meshprobe::agent
