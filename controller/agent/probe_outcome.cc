#include "agent/probe_outcome.h"

namespace meshprobe::agent {

std::string_view reason_name(FailureReason reason) {
  switch (reason) {
    case FailureReason::kNone:
      return "none";
    case FailureReason::kConnectionRefused:
      return "connection_refused";
    case FailureReason::kTimeout:
      return "timeout";
    case FailureReason::kConnectionError:
      return "connection_error";
    case FailureReason::kTls:
      return "tls";
    case FailureReason::kStatusCode:
      return "status_code";
    case FailureReason::kTooManyRedirects:
      return "too_many_redirects";
    case FailureReason::kBadRedirect:
      return "bad_redirect";
    case FailureReason::kProtocolError:
      return "protocol_error";
    case FailureReason::kNotServing:
      return "not_serving";
    case FailureReason::kGrpcStatus:
      return "grpc_status";
  }
  return "unknown";
}

}  // namespace meshprobe::agent
