#include "agent/asio_tcp_prober.h"

#include "agent/pod_address.h"

namespace meshprobe::agent {
namespace {

asio::awaitable<ProbeOutcome> connect_once(std::string address, int port, std::chrono::seconds timeout) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_after(timeout);
  error_code error;
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(address, error), static_cast<unsigned short>(port));
  if (!error) co_await stream.async_connect(endpoint, await_error(error));
  if (error) co_return ProbeOutcome::failure(reason_for(error), describe_failure("connect to", address, port, error));
  co_return ProbeOutcome::success();
}

}  // namespace

void AsioTcpProber::probe(const probe::TcpSocketAction& action, std::chrono::seconds timeout, ProbeCallback done) {
  const std::string host = probe_host(action.host, pod_ip_);
  auto address = dial_address(host, pod_ip_);
  if (!address) {  // validate_probers_for_agent refuses such a configuration at start
    done(ProbeOutcome::failure(FailureReason::kConnectionError, "host \"" + host + "\" is not the pod's own"));
    return;
  }
  spawn_probe(executor_, connect_once(*address, action.port, timeout), std::move(done));
}

}  // namespace meshprobe::agent
