// CpprestTransport: the production Transport, on cpprestsdk's http_client. TLS is verified
// against the configured CA only (never the system store as well, as client-go); client
// certificates and keys come from files or PEM bytes; the bearer token is re-read as it
// rotates. Two clients: one for requests (RestConfig::requestTimeout) and one for watches,
// whose inactivity timeout must exceed the longest silence of a watch (its timeoutSeconds).
#pragma once

#include <chrono>
#include <memory>

#include "kube/clock.h"
#include "kube/config.h"
#include "kube/credentials.h"
#include "kube/transport.h"

namespace meshprobe::kube {

struct CpprestTransportOptions {
  std::chrono::seconds stream_inactivity_timeout{11 * 60};
};

// Sizes cpprestsdk's shared thread pool (40 threads by default). Only main() calls it, once,
// before the first request; a second call changes nothing and returns false.
bool initialize_cpprest_threads(std::size_t threads);

class CpprestTransport final : public Transport {
 public:
  // Checks the TLS material now, so a missing or malformed file fails at start with a clear
  // error rather than on the first request. When the configuration names a CA (or skips
  // verification), also points OpenSSL's default CA file at an empty one (SSL_CERT_FILE, see
  // transport_cpprest.cc): call it before starting other threads.
  static meshprobe::Result<std::unique_ptr<CpprestTransport>> create(
      const RestConfig& config, Clock& clock, CpprestTransportOptions options = {});
  ~CpprestTransport() override;

  ApiResult<HttpResponse> send(const HttpRequest& request) override;
  ApiResult<StreamingResponse> open_stream(const HttpRequest& request) override;

 private:
  struct Clients;
  CpprestTransport(const RestConfig& config, Clock& clock, CpprestTransportOptions options);

  RestConfig config_;
  BearerToken token_;
  std::unique_ptr<Clients> clients_;
};

}  // namespace meshprobe::kube
