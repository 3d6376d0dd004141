#include "agent/asio_tcp_prober.h"

#include "agent/pod_address.h"

namespace meshprobe::agent {
namespace {

asio::awaitable<ProbeOutcome> connect_once(Clock& clock, ApplicationDialer& dialer,
                                           std::vector<std::string> addresses, int port,
                                           std::chrono::seconds timeout) {
  asio::ip::tcp::socket socket(co_await asio::this_coro::executor);
  ConnectionDeadline deadline(clock, socket);
  deadline.expires_after(timeout);
  const DialResult dialed = co_await dialer.connect(socket, deadline, addresses, port);
  if (dialed.error) {
    co_return ProbeOutcome::failure(
        reason_for(dialed.error),
        describe_failure("connect to", dialed.address, port, dialed.error));
  }
  co_return ProbeOutcome::success();
}

}  // namespace

void AsioTcpProber::probe(const probe::TcpSocketAction& action, std::chrono::seconds timeout,
                          ProbeCallback done) {
  const std::string host = probe_host(action.host, pod_ip_);
  auto addresses = dial_addresses(host, pod_ip_);
  if (addresses.empty()) {  // validate_probers_for_agent refuses such a configuration at start
    done(ProbeOutcome::failure(FailureReason::kConnectionError,
                               "host \"" + host + "\" is not the pod's own"));
    return;
  }
  spawn_probe(executor_, connect_once(clock_, *dialer_, std::move(addresses), action.port, timeout),
              std::move(done));
}

}  // namespace meshprobe::agent
