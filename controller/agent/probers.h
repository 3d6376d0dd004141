// The three ways the agent probes the application: the I/O seams between the request handler
// (pure decisions) and the network. Each call answers exactly once through `done`, on the
// agent's event loop, within `timeout` (plus scheduling); none blocks the caller.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "agent/probe_outcome.h"
#include "probe/app_probers.h"

namespace meshprobe::agent {

using ProbeCallback = std::function<void(ProbeOutcome)>;

class HttpProber {
 public:
  virtual ~HttpProber() = default;
  // `user_agent` is the caller's: the one header of the kubelet's request that reaches the app.
  virtual void probe(const probe::HttpGetAction& action, std::chrono::seconds timeout,
                     std::string user_agent, ProbeCallback done) = 0;
};
using HttpProberPtr = std::unique_ptr<HttpProber>;

class TcpProber {
 public:
  virtual ~TcpProber() = default;
  virtual void probe(const probe::TcpSocketAction& action, std::chrono::seconds timeout,
                     ProbeCallback done) = 0;
};
using TcpProberPtr = std::unique_ptr<TcpProber>;

class GrpcProber {
 public:
  virtual ~GrpcProber() = default;
  virtual void probe(const probe::GrpcAction& action, std::chrono::seconds timeout,
                     std::string user_agent, ProbeCallback done) = 0;
};
using GrpcProberPtr = std::unique_ptr<GrpcProber>;

}  // namespace meshprobe::agent
