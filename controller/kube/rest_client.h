// RestClient: KubernetesApi over a Transport. Adds what every call needs: the client-side
// rate limit (QPS with a burst), retries of 429 responses after their Retry-After, mapping of
// Status responses to ApiError, a write fence, and client-go's rest_client_* metrics with
// client-go's meaning (docs/operations.md "Metrics"):
//   rest_client_requests_total{code,method,host}         every attempt, "<error>" without a
//                                                        response; method is the HTTP method
//   rest_client_request_retries_total{code,verb,host}    attempts after the first
//   rest_client_request_duration_seconds{verb,host}      once per call, throttling and retries
//                                                        included (watches: to the headers)
//   rest_client_rate_limiter_duration_seconds{verb,host} every wait for the client-side limit
// plus meshprobe_fenced_writes_total{method}: writes refused by the fence.
#pragma once

#include <mutex>
#include <optional>
#include <stop_token>
#include <string>

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
  // The API server's host[:port]: the `host` label of the rest_client_* metrics, as client-go
  // sets it from the server URL ("none" when unknown, as client-go says).
  std::string host = "none";
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

  // Closes the write fence, for good: from now on create, update, patch and remove fail at once
  // with kFenced and `reason` (and count in meshprobe_fenced_writes_total), whether they are
  // new or were waiting for the rate limiter or a Retry-After; reads and watches go on. For a
  // replica that lost its Lease or is stopping, so that not one more write of it reaches the
  // API server (controller-runtime cancels its reconciles' context for the same reason). The
  // first reason stays.
  void fence_writes(const std::string& reason);
  bool writes_fenced() const;

 private:
  ApiResult<HttpResponse> execute(const HttpRequest& request);
  ApiResult<nlohmann::json> execute_for_object(const HttpRequest& request,
                                               ResponseFields fields = ResponseFields::kObject);
  // Waits for the client-side rate limit; false when stopped.
  bool throttle(const std::string& method);
  // The kFenced error when `request` is a write and the fence is closed.
  std::optional<ApiError> refused_by_fence(const HttpRequest& request);
  void count_attempt(const std::string& method, const std::string& code, bool retry);
  void observe_duration(const std::string& method, MonotonicTime started);

  Transport& transport_;
  RestClientOptions options_;
  Clock& clock_;
  ClientRateLimiter limiter_;
  std::stop_source stop_;
  mutable std::mutex fence_mutex_;
  std::optional<std::string> fence_reason_;
  CounterFamily& requests_;
  CounterFamily& retries_;
  HistogramFamily& latency_;
  HistogramFamily& rate_limiter_latency_;
  CounterFamily& fenced_writes_;
};

}  // namespace meshprobe::kube
