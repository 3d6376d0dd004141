// TCP probe: connect within the timeout → 200, else 500; the connection is closed at once.
#pragma once

#include "agent/application_dialer.h"
#include "agent/asio.h"
#include "agent/probers.h"

namespace meshprobe::agent {

class AsioTcpProber final : public TcpProber {
 public:
  AsioTcpProber(asio::any_io_executor executor, Clock& clock, std::string pod_ip,
                ApplicationDialerPtr dialer)
      : executor_(std::move(executor)),
        clock_(clock),
        pod_ip_(std::move(pod_ip)),
        dialer_(std::move(dialer)) {}

  void probe(const probe::TcpSocketAction& action, std::chrono::seconds timeout,
             ProbeCallback done) override;

 private:
  asio::any_io_executor executor_;
  Clock& clock_;
  std::string pod_ip_;
  ApplicationDialerPtr dialer_;
};

}  // namespace meshprobe::agent
