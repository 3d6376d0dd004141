// EventRecorder: Kubernetes Events (events.k8s.io/v1) about a Deployment, as client-go's
// events.EventRecorder writes them (reportingController meshprobe.io/controller, regarding the
// object, a note a person can read). An Event that cannot be written is logged and dropped:
// Events are best effort and never hold up reconciling.
#pragma once

#include <string>

#include "kube/api.h"
#include "kube/clock.h"
#include "kube/logger.h"
#include "kube/metrics.h"

namespace meshprobe::controller {

inline constexpr const char* kReportingController = "meshprobe.io/controller";
inline const kube::ResourceType kEventsV1{"events.k8s.io", "v1", "events", "Event", true};

struct EventSubject {
  std::string api_version;  // apps/v1
  std::string kind;         // Deployment
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string resource_version;
};

enum class EventType { kNormal, kWarning };

class EventRecorder {
 public:
  // `instance`: this replica's identity (reportingInstance).
  EventRecorder(kube::KubernetesApi& api, kube::Clock& clock, std::string instance,
                kube::MetricsRegistry& metrics, kube::Logger& logger);

  // `reason`: UpperCamelCase (Rewritten, Restored, InvalidProbe, ConflictingWriter); `action`:
  // what meshprobe did (RewriteProbes, RestoreProbes, StopRewriting); `note` is cut to 1 kB.
  void record(const EventSubject& subject, EventType type, const std::string& reason,
              const std::string& action, const std::string& note);

 private:
  kube::KubernetesApi& api_;
  kube::Clock& clock_;
  std::string instance_;
  kube::Logger& logger_;
  kube::CounterFamily& events_;
};

}  // namespace meshprobe::controller
