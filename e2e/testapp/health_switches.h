// The test application's three health checks and the switches that make each fail at run
// time (the control endpoint sets them; the HTTP, TCP and gRPC servers read them).
#pragma once

#include <array>
#include <atomic>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probe/result.h"

namespace meshprobe::e2e {

enum class HealthCheck { kHttp, kTcp, kGrpc };
inline constexpr std::array<HealthCheck, 3> kHealthChecks = {HealthCheck::kHttp, HealthCheck::kTcp,
                                                             HealthCheck::kGrpc};

std::string_view health_check_name(HealthCheck check);
std::optional<HealthCheck> parse_health_check(std::string_view name);

// "failing" or "passing" (the words the control endpoint takes and reports).
Result<bool> parse_failing(std::string_view word);

// A comma-separated list of check names ("http,grpc"; empty: none).
Result<std::vector<HealthCheck>> parse_health_check_list(std::string_view list);

// What a control request asks: PUT /health/<check> with the body "failing" or "passing".
struct HealthChange {
  HealthCheck check;
  bool failing;
};
Result<HealthChange> parse_health_change(std::string_view target, std::string_view body);

// Thread-safe: the gRPC server reads them from its own threads.
class HealthSwitches {
 public:
  bool failing(HealthCheck check) const { return failing_[index(check)].load(); }
  void set(HealthCheck check, bool failing) { failing_[index(check)].store(failing); }
  // {"http":"passing","tcp":"failing","grpc":"passing"}
  std::string json() const;

 private:
  static std::size_t index(HealthCheck check) { return static_cast<std::size_t>(check); }
  std::array<std::atomic<bool>, kHealthChecks.size()> failing_{};
};

}  // namespace meshprobe::e2e
