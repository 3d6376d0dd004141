// RestClient: KubernetesApi over a Transport. Adds what every call needs: the client-side
// rate limit (QPS with a burst), retries of 429 responses after their Retry-After, mapping of
// Status responses to ApiError, and metrics (rest_client_requests_total by verb and code,
// rest_client_request_duration_seconds by verb).
#pragma once

#include <stop_token>

#include "kube/api.h"
#include "kube/clock.h"
#include "kube/metrics.h"
#include "kube/rate_limiter.h"
#include "kube/transport.h"

namespace meshprobe::kube {

struct RestClientOptions {
  double queries_per_second = 20.0;
  int burst = 30;
  // A 429 is retried this many times, each after its Retry-After (or 1 s), then returned.
  int maximum_retries = 3;
  Duration longest_retry_after = std::chrono::seconds(30);
};

class RestClient final : public KubernetesApi {
 public:
  RestClient(Transport& transport, RestClientOptions options, Clock& clock,
             MetricsRegistry& metrics);

  ApiResult<nlohmann::json> get(const ResourceType& type, const std::string& namespace_name,
                                const std::string& name, const std::string& subresource) override;
  ApiResult<ObjectList> list(const ResourceType& type, const std::string& namespace_name,
                             const ListOptions& options) override;
  ApiResult<nlohmann::json> create(const ResourceType& type, const std::string& namespace_name,
                                   const nlohmann::json& object,
                                   const WriteOptions& options) override;
  ApiResult<nlohmann::json> update(const ResourceType& type, const std::string& namespace_name,
                                   const nlohmann::json& object,
                                   const WriteOptions& options) override;
  ApiResult<nlohmann::json> patch(const ResourceType& type, const std::string& namespace_name,
                                  const std::string& name, PatchType patch_type,
                                  const std::string& body, const PatchOptions& options) override;
  ApiStatus remove(const ResourceType& type, const std::string& namespace_name,
                   const std::string& name, const DeleteOptions& options) override;
  ApiResult<WatchStreamPtr> watch(const ResourceType& type, const std::string& namespace_name,
                                  const WatchOptions& options) override;
  ApiResult<nlohmann::json> get_path(const std::string& path) override;

  // Interrupts waits for the rate limiter or a Retry-After; later calls fail with kStopped.
  void stop() { stop_.request_stop(); }

 private:
  ApiResult<HttpResponse> execute(const std::string& verb, const HttpRequest& request);
  ApiResult<nlohmann::json> execute_for_object(const std::string& verb, const HttpRequest& request,
                                               ResponseFields fields = ResponseFields::kObject);
  void record(const std::string& verb, const std::string& code, MonotonicTime started);

  Transport& transport_;
  RestClientOptions options_;
  Clock& clock_;
  ClientRateLimiter limiter_;
  std::stop_source stop_;
  CounterFamily& requests_;
  HistogramFamily& latency_;
};

}  // namespace meshprobe::kube
