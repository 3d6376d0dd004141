// What one probe of the application came to: the status the agent answers the kubelet with,
// and, for a failure, why (the metrics label and the log line carry the reason).
#pragma once

#include <string>
#include <string_view>

namespace meshprobe::agent {

enum class FailureReason {
  kNone,
  kConnectionRefused,
  kTimeout,
  kConnectionError,  // reset, unreachable, closed early: any other transport failure
  kTls,
  kStatusCode,  // the application answered, with a failing status
  kTooManyRedirects,
  kBadRedirect,  // a Location the kubelet would not follow either (unparsable, other scheme)
  kProtocolError,
  kNotServing,  // gRPC health: an answer other than SERVING
  kGrpcStatus,  // gRPC: a non-OK status, e.g. UNIMPLEMENTED when the app has no health service
};

// "connection_refused", "timeout", ...: stable, used as the Prometheus label value.
std::string_view reason_name(FailureReason reason);

inline constexpr int kAgentFailureStatus = 500;

struct ProbeOutcome {
  int status = 200;
  FailureReason reason = FailureReason::kNone;
  std::string detail;  // a sentence for the log line; empty for a success

  bool succeeded() const { return reason == FailureReason::kNone; }

  static ProbeOutcome success() { return {}; }
  static ProbeOutcome failure(FailureReason reason, std::string detail,
                              int status = kAgentFailureStatus) {
    return {status, reason, std::move(detail)};
  }
};

}  // namespace meshprobe::agent
