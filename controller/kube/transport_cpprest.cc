#include "kube/transport_cpprest.h"

#include <cpprest/http_client.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <pplx/threadpool.h>

#include <atomic>
#include <boost/asio/ssl.hpp>
#include <cstdlib>
#include <string_view>

namespace meshprobe::kube {
namespace {

using web::http::http_request;
using web::http::http_response;
using web::http::client::http_client;
using web::http::client::http_client_config;

// Loads the CA and client credentials into an OpenSSL context; throws boost::system errors.
void configure_tls(const TlsConfig& tls, boost::asio::ssl::context& context) {
  if (!tls.ca_pem.empty() || !tls.ca_file.empty()) {
    // Trust the configured CA only: drop the default store cpprestsdk loaded.
    SSL_CTX_set_cert_store(context.native_handle(), X509_STORE_new());
    if (!tls.ca_pem.empty()) {
      context.add_certificate_authority(boost::asio::buffer(tls.ca_pem));
    } else {
      context.load_verify_file(tls.ca_file);
    }
  }
  if (!tls.client_certificate_pem.empty()) {
    context.use_certificate_chain(boost::asio::buffer(tls.client_certificate_pem));
  } else if (!tls.client_certificate_file.empty()) {
    context.use_certificate_chain_file(tls.client_certificate_file);
  }
  if (!tls.client_key_pem.empty()) {
    context.use_private_key(boost::asio::buffer(tls.client_key_pem),
                            boost::asio::ssl::context::pem);
  } else if (!tls.client_key_file.empty()) {
    context.use_private_key_file(tls.client_key_file, boost::asio::ssl::context::pem);
  }
}

// cpprestsdk gives each new connection a fresh OpenSSL context and loads OpenSSL's default CA
// bundle into it (set_default_verify_paths; about 140 certificates on Debian) before
// configure_tls replaces that store with the configured CA: on every connection, each watch and
// each page of a first list. With OpenSSL 3's decoders that load was 19-22 % of the CPU of a
// controller restart with 3,000 workloads (perf), and a burst of short-lived allocations each
// time. When a CA is configured, or verification is off, the bundle is never used, so OpenSSL's
// default file becomes an empty one (its directory is only read on a lookup, which the replaced
// store never makes): the restart's CPU fell by a third to a half (docs/benchmarks.md). With
// the system trust store in use nothing changes. (A later transport of the same process that
// relies on the system store would find it empty and fail verification: safe, and the
// controller has one transport.)
void skip_unused_default_ca_bundle(const TlsConfig& tls) {
  const bool bundle_unused =
      tls.insecure_skip_verify || !tls.ca_pem.empty() || !tls.ca_file.empty();
  if (!bundle_unused) return;
  const char* current = std::getenv("SSL_CERT_FILE");
  if (current != nullptr && std::string_view(current) == "/dev/null") return;
  setenv("SSL_CERT_FILE", "/dev/null", 1);
}

http_client_config client_config(const RestConfig& config, std::chrono::seconds timeout) {
  http_client_config settings;
  settings.set_timeout(timeout);
  settings.set_validate_certificates(!config.tls.insecure_skip_verify);
  const TlsConfig tls = config.tls;
  settings.set_ssl_context_callback(
      [tls](boost::asio::ssl::context& context) { configure_tls(tls, context); });
  return settings;
}

std::map<std::string, std::string> lower_case_headers(const web::http::http_headers& headers) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : headers) {
    std::string lower = name;
    for (char& character : lower) character = static_cast<char>(std::tolower(character));
    out[lower] = value;
  }
  return out;
}

}  // namespace

struct CpprestTransport::Clients {
  http_client requests;
  http_client streams;
};

bool initialize_cpprest_threads(std::size_t threads) {
  try {
    crossplat::threadpool::initialize_with_threads(threads);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

meshprobe::Result<std::unique_ptr<CpprestTransport>> CpprestTransport::create(
    const RestConfig& config, Clock& clock, CpprestTransportOptions options) {
  if (!config.tls.server_name.empty()) {
    return meshprobe::Error{config.source +
                            ": tls-server-name is not supported; connect to a "
                            "name the server's certificate carries"};
  }
  try {
    boost::asio::ssl::context probe(boost::asio::ssl::context::tls_client);
    configure_tls(config.tls, probe);
  } catch (const std::exception& problem) {
    return meshprobe::Error{config.source + ": cannot load the TLS files (" +
                            config.tls.ca_description +
                            ", client certificate and key): " + problem.what()};
  }
  skip_unused_default_ca_bundle(config.tls);
  try {
    return std::unique_ptr<CpprestTransport>(new CpprestTransport(config, clock, options));
  } catch (const std::exception& problem) {
    return meshprobe::Error{config.source + ": server " + config.server + ": " + problem.what()};
  }
}

CpprestTransport::CpprestTransport(const RestConfig& config, Clock& clock,
                                   CpprestTransportOptions options)
    : config_(config),
      token_(config.bearer_token, config.bearer_token_file, clock),
      clients_(new Clients{
          http_client(config.server, client_config(config, config.request_timeout)),
          http_client(config.server, client_config(config, options.stream_inactivity_timeout))}) {}

CpprestTransport::~CpprestTransport() = default;

namespace {

// Builds cpprestsdk's request; an error when the token file cannot be read.
ApiResult<http_request> build_request(const HttpRequest& request, const RestConfig& config,
                                      BearerToken& token) {
  http_request out(request.method);
  out.set_request_uri(request.target);
  out.headers().add("Accept", "application/json");
  out.headers().add("User-Agent", config.user_agent);
  auto bearer = token.current();
  if (!bearer) {
    ApiError error;
    error.kind = ApiErrorKind::kUnauthorized;
    error.detail = bearer.error().message;
    return error;
  }
  if (!bearer->empty()) out.headers().add("Authorization", "Bearer " + *bearer);
  if (!request.content_type.empty()) out.set_body(request.body, request.content_type);
  return out;
}

// cpprestsdk says only "Error in SSL handshake"; its error code carries OpenSSL's reason.
// A failed verification names the server and the CA that was used.
ApiError transport_error(const std::exception& problem, const RestConfig& config) {
  ApiError error;
  error.kind = ApiErrorKind::kTransport;
  const std::string what = problem.what();
  error.detail = config.server + ": " + what;
  auto http = dynamic_cast<const web::http::http_exception*>(&problem);
  if (http == nullptr) return error;
  const int code = http->error_code().value();
  if (http->error_code() == std::errc::timed_out) {
    error.kind = ApiErrorKind::kTimeout;
    error.detail = "no response from " + config.server + " in time (" + what + ")";
  } else if (code > 0 && ERR_GET_LIB(static_cast<unsigned long>(code)) == ERR_LIB_SSL) {
    const unsigned long reason = ERR_GET_REASON(static_cast<unsigned long>(code));
    const char* text = ERR_reason_error_string(static_cast<unsigned long>(code));
    const std::string reason_text = text != nullptr ? text : std::to_string(reason);
    if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
      error.detail = "TLS handshake with " + config.server +
                     " failed: its certificate could not be verified with " +
                     config.tls.ca_description + " (" + reason_text +
                     "; is that the CA that signed it, and is it issued for this address?)";
    } else {
      error.detail = "TLS handshake with " + config.server + " failed: " + reason_text;
    }
  }
  return error;
}

class CpprestBodyStream final : public BodyStream {
 public:
  CpprestBodyStream(http_response response, pplx::cancellation_token_source cancellation,
                    const RestConfig& config)
      : response_(std::move(response)),
        body_(response_.body()),
        cancellation_(std::move(cancellation)),
        config_(config) {}

  ~CpprestBodyStream() override { cancel(); }

  ApiResult<std::string> read() override {
    if (cancelled_) return stopped();
    try {
      auto buffer = body_.streambuf();
      // Wait for one byte, then take whatever else has already arrived.
      const int first = buffer.bumpc().get();
      if (first == std::char_traits<char>::eof()) {
        if (cancelled_) return stopped();
        return std::string();
      }
      std::string bytes(1, static_cast<char>(first));
      const std::size_t available = buffer.in_avail();
      if (available > 0) {
        bytes.resize(1 + available);
        const std::size_t read =
            buffer.getn(reinterpret_cast<std::uint8_t*>(bytes.data() + 1), available).get();
        bytes.resize(1 + read);
      }
      return bytes;
    } catch (const std::exception& problem) {
      if (cancelled_) return stopped();
      return transport_error(problem, config_);
    }
  }

  void cancel() override {
    if (cancelled_.exchange(true)) return;
    cancellation_.cancel();
    try {
      body_.streambuf().close(std::ios_base::in).wait();
    } catch (const std::exception&) {
      // Already closed by the cancellation: nothing else to release.
    }
  }

 private:
  ApiError stopped() const {
    ApiError error;
    error.kind = ApiErrorKind::kStopped;
    error.detail = "the watch was cancelled";
    return error;
  }

  http_response response_;
  concurrency::streams::istream body_;
  pplx::cancellation_token_source cancellation_;
  RestConfig config_;  // a copy: the stream may outlive the transport
  std::atomic<bool> cancelled_{false};
};

}  // namespace

ApiResult<HttpResponse> CpprestTransport::send(const HttpRequest& request) {
  // Pooled connections the server closed (it restarted) fail on first use. Like Go's
  // net/http, send again on another connection when that is safe: when the request never
  // reached the server (each stale connection fails this way once), or once for a GET.
  constexpr int kMostStaleConnections = 8;
  bool retried_read = false;
  for (int attempt = 0;; ++attempt) {
    auto built = build_request(request, config_, token_);
    if (!built) return built.error();
    try {
      http_response response = clients_->requests.request(built.value()).get();
      HttpResponse out;
      out.status = response.status_code();
      out.headers = lower_case_headers(response.headers());
      out.body = response.extract_utf8string(true).get();
      if (out.status == 401) token_.invalidate();
      return out;
    } catch (const web::http::http_exception& problem) {
      const bool not_sent =
          std::string(problem.what()).find("Failed to write") != std::string::npos;
      if (not_sent && attempt < kMostStaleConnections) continue;
      if (!not_sent && request.method == "GET" && !retried_read) {
        retried_read = true;
        continue;
      }
      return transport_error(problem, config_);
    } catch (const std::exception& problem) {
      return transport_error(problem, config_);
    }
  }
}

ApiResult<StreamingResponse> CpprestTransport::open_stream(const HttpRequest& request) {
  auto built = build_request(request, config_, token_);
  if (!built) return built.error();
  try {
    pplx::cancellation_token_source cancellation;
    http_response response =
        clients_->streams.request(built.value(), cancellation.get_token()).get();
    StreamingResponse out;
    out.status = response.status_code();
    out.headers = lower_case_headers(response.headers());
    if (out.status < 200 || out.status >= 300) {
      out.error_body = response.extract_utf8string(true).get();
      if (out.status == 401) token_.invalidate();
      return out;
    }
    out.body =
        std::make_unique<CpprestBodyStream>(std::move(response), std::move(cancellation), config_);
    return out;
  } catch (const std::exception& problem) {
    return transport_error(problem, config_);
  }
}

}  // namespace meshprobe::kube
