// What the agent answers a caller: the seam between the HTTP server (bytes, limits,
// connections) and the decisions (which path, which probe, what status).
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace meshprobe::agent {

struct IncomingRequest {
  std::string method;
  std::string target;      // as sent: path and maybe a query
  std::string user_agent;  // the only header of the caller's that reaches the application
};

struct Reply {
  int status = 200;
  std::string content_type;  // empty: no body
  std::string body;
};

using ReplyCallback = std::function<void(Reply)>;

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Answers exactly once through `reply`, now or when a probe completes.
  virtual void handle(const IncomingRequest& request, ReplyCallback reply) = 0;
};

using RequestHandlerPtr = std::unique_ptr<RequestHandler>;

}  // namespace meshprobe::agent
