// Transport: the HTTP seam between the API client and the network. The REST client, watches
// and leases are written against it, so their unit tests mock it (unit/kube/mocks/); main()
// wires CpprestTransport (transport_cpprest.h), which adds TLS and credentials.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "kube/api_error.h"

namespace meshprobe::kube {

struct HttpRequest {
  std::string method;        // GET, POST, PUT, PATCH, DELETE
  std::string target;        // path and query, e.g. /api/v1/namespaces?limit=500
  std::string content_type;  // for a body
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;

  std::optional<std::string> header(const std::string& lower_case_name) const {
    auto found = headers.find(lower_case_name);
    if (found == headers.end()) return std::nullopt;
    return found->second;
  }
};

// The body of a streaming response (a watch), read as it arrives.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  // The next bytes, as many as have arrived (at least one); an empty string at the end of
  // the body. Blocks until data, the end, an error, or cancel().
  virtual ApiResult<std::string> read() = 0;
  // From any thread: makes a blocked or later read() return (kStopped) and drops the
  // connection.
  virtual void cancel() = 0;
};
using BodyStreamPtr = std::unique_ptr<BodyStream>;

struct StreamingResponse {
  int status = 0;
  std::map<std::string, std::string> headers;
  // For a 2xx status, the body to read; otherwise the whole body is in errorBody.
  BodyStreamPtr body;
  std::string error_body;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // One request and its whole response; an error only when no response arrived.
  virtual ApiResult<HttpResponse> send(const HttpRequest& request) = 0;
  // A request whose response body is read incrementally (watches).
  virtual ApiResult<StreamingResponse> open_stream(const HttpRequest& request) = 0;
};
using TransportPtr = std::unique_ptr<Transport>;

}  // namespace meshprobe::kube
