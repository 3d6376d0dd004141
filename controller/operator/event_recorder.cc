#include "operator/event_recorder.h"

#include <cstdio>

#include "kube/leader_election.h"

namespace meshprobe::controller {
namespace {

// The API server's limit on an Event's note.
constexpr std::size_t kMaximumNoteBytes = 1024;

std::string cut_note(const std::string& note) {
  if (note.size() <= kMaximumNoteBytes) return note;
  std::size_t end = kMaximumNoteBytes - 3;
  while (end > 0 && (static_cast<unsigned char>(note[end]) & 0xC0) == 0x80)
    --end;  // whole UTF-8 characters
  return note.substr(0, end) + "...";
}

}  // namespace

EventRecorder::EventRecorder(kube::KubernetesApi& api, kube::Clock& clock, std::string instance,
                             kube::MetricsRegistry& metrics, kube::Logger& logger)
    : api_(api),
      clock_(clock),
      instance_(std::move(instance)),
      logger_(logger),
      events_(metrics.counter("meshprobe_events_total",
                              "Kubernetes Events written, by type and reason.",
                              {"type", "reason"})) {}

void EventRecorder::record(const EventSubject& subject, EventType type, const std::string& reason,
                           const std::string& action, const std::string& note) {
  const auto now = clock_.system_now();
  const auto nanoseconds =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%llx", static_cast<unsigned long long>(nanoseconds));
  const std::string type_name = type == EventType::kWarning ? "Warning" : "Normal";
  const nlohmann::json event = {
      {"apiVersion", "events.k8s.io/v1"},
      {"kind", "Event"},
      {"metadata", {{"name", subject.name + suffix}, {"namespace", subject.namespace_name}}},
      {"eventTime", kube::format_micro_time(now)},
      {"reportingController", kReportingController},
      {"reportingInstance", instance_},
      {"action", action},
      {"reason", reason},
      {"type", type_name},
      {"note", cut_note(note)},
      {"regarding",
       {{"apiVersion", subject.api_version},
        {"kind", subject.kind},
        {"namespace", subject.namespace_name},
        {"name", subject.name},
        {"uid", subject.uid},
        {"resourceVersion", subject.resource_version}}},
  };
  auto created = api_.create(kEventsV1, subject.namespace_name, event,
                             {.response = kube::ResponseFields::kMetadata});
  if (!created) {
    logger_.warning("could not record Event " + reason + " for " + subject.kind + " " +
                    subject.namespace_name + "/" + subject.name + ": " + created.error().message());
    return;
  }
  events_.labels({type_name, reason}).increment();
}

}  // namespace meshprobe::controller
