#include "agent/application_dialer.h"

#include "agent/pod_address.h"

namespace meshprobe::agent {

asio::awaitable<DialResult> ApplicationDialer::connect(asio::ip::tcp::socket& socket,
                                                       const ConnectionDeadline& deadline,
                                                       const std::vector<std::string>& addresses,
                                                       int port) {
  DialResult result;
  for (const auto& address : addresses) {
    if (deadline.expired()) {
      if (result.address.empty()) result = DialResult{beast::error::timeout, address};
      break;
    }
    error_code error;
    const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(address, error),
                                           static_cast<unsigned short>(port));
    if (!error) {
      socket.close(error);  // after a failed attempt; nothing to do on the first
      bind_source(socket, endpoint);
      co_await socket.async_connect(endpoint, await_error(error));
      error = deadline.error_for(error);
    }
    if (!error) co_return DialResult{{}, address};
    if (result.address.empty()) result = DialResult{error, address};
  }
  if (result.address.empty())
    result.error = asio::error::host_not_found;  // no address: cannot happen after validation
  co_return result;
}

void ApplicationDialer::bind_source(asio::ip::tcp::socket& socket,
                                    const asio::ip::tcp::endpoint& target) {
  const auto source = mesh_exempt_source_address(target.address().to_string(), pod_ip_);
  if (!source) return;  // the connect opens the socket itself
  error_code error;
  socket.open(target.protocol(), error);
  if (error) return;  // the connect reports it
  socket.bind({asio::ip::make_address(*source), 0}, error);
  // A socket whose bind failed stays usable: the connect then picks the source itself.
  if (error && !bind_failure_logged_) {
    bind_failure_logged_ = true;
    logger_.log(LogLevel::kWarn,
                "cannot bind the source address Istio does not capture; connecting to the pod IP "
                "without it",
                {{"source", *source}, {"pod_ip", pod_ip_}, {"error", error.message()}});
  }
}

}  // namespace meshprobe::agent
