// HTTP(S) probe with the kubelet's semantics (http_probe_request.h holds the rules): one new
// connection per request, HTTPS without certificate verification, redirects followed on the
// same host only, the timeout covering the whole probe, only the response head read.
#pragma once

#include "agent/application_dialer.h"
#include "agent/asio.h"
#include "agent/probers.h"

namespace meshprobe::agent {

class AsioHttpProber final : public HttpProber {
 public:
  // Response heads larger than this fail the probe; the body is never read.
  static constexpr std::size_t kMaxResponseHeaderBytes = 16 * 1024;

  AsioHttpProber(asio::any_io_executor executor, Clock& clock, std::string pod_ip,
                 ApplicationDialerPtr dialer);

  void probe(const probe::HttpGetAction& action, std::chrono::seconds timeout,
             std::string user_agent, ProbeCallback done) override;

 private:
  asio::ssl::context& tls();

  asio::any_io_executor executor_;
  Clock& clock_;
  std::string pod_ip_;
  ApplicationDialerPtr dialer_;
  // Shared by every HTTPS probe and made at the first: OpenSSL's initialisation costs resident
  // memory that an agent without HTTPS probes need not pay. Verifies nothing, as the kubelet.
  std::optional<asio::ssl::context> tls_;
};

}  // namespace meshprobe::agent
