#include "kube/reflector.h"

#include "kube/rest_client.h"

namespace meshprobe::kube {
namespace {

// A watch the server closes this fast without an event is as bad as a failure (client-go's
// "very short watch"): back off instead of spinning.
constexpr std::chrono::seconds kShortestHealthyWatch{1};

std::string resource_version_of(const nlohmann::json& object) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  return metadata->value("resourceVersion", "");
}

}  // namespace

Reflector::Reflector(std::string name, KubernetesApi& api, ResourceResolver resolve,
                     ReflectorSink& sink, ReflectorOptions options, Clock& clock, Random& random,
                     MetricsRegistry& metrics, Logger& logger)
    : name_(std::move(name)),
      api_(api),
      resolve_(std::move(resolve)),
      sink_(sink),
      options_(std::move(options)),
      clock_(clock),
      random_(random),
      logger_(logger),
      backoff_(options_.backoff, clock, random),
      lists_(metrics.counter("reflector_lists_total", "Full lists per reflector.", {"name"})
                 .labels({name_})),
      watches_(metrics.counter("reflector_watches_total", "Watches opened per reflector.", {"name"})
                   .labels({name_})),
      restarts_(metrics.counter("reflector_watch_restarts_total",
                                "Watches that ended other than by the server's timeout, by "
                                "reason (gone: relisted; error: reconnected after a backoff).",
                                {"name", "reason"})) {}

Reflector::~Reflector() { stop(); }

void Reflector::start() {
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void Reflector::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();  // the stop callback in watch_once() cancels a blocked watch
  thread_.join();
}

std::string Reflector::last_resource_version() const {
  std::lock_guard lock(mutex_);
  return resource_version_;
}

void Reflector::set_resource_version(const std::string& version) {
  std::lock_guard lock(mutex_);
  resource_version_ = version;
}

void Reflector::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    switch (list_and_watch(stop)) {
      case Outcome::kStopped:
        return;
      case Outcome::kFailed:
        if (!sleep_for(clock_, backoff_.next(), stop)) return;
        break;
      case Outcome::kNotServed:
        if (!sleep_for(clock_, options_.discovery_interval, stop)) return;
        break;
      case Outcome::kRelist:
        break;
    }
  }
}

Reflector::Outcome Reflector::list_and_watch(std::stop_token stop) {
  if (stop.stop_requested()) return Outcome::kStopped;
  auto resolved = resolve_();
  if (!resolved) {
    logger_.warning(name_ + ": discovery failed: " + resolved.error().message());
    return Outcome::kFailed;
  }
  if (!resolved->has_value()) {
    if (served_) {
      logger_.info(name_ +
                   ": not served by the API server (CRD not installed?); the cache stays "
                   "empty and discovery is asked again every " +
                   std::to_string(
                       std::chrono::duration_cast<std::chrono::seconds>(options_.discovery_interval)
                           .count()) +
                   "s");
    }
    served_ = false;
    sink_.start_replace();
    sink_.finish_replace();
    set_resource_version("");
    return Outcome::kNotServed;
  }
  const ResourceType type = **resolved;
  if (!served_) logger_.info(name_ + ": now served as " + type.api_version());
  served_ = true;
  if (!list(type)) return Outcome::kFailed;
  while (true) {
    switch (watch_once(type, stop)) {
      case WatchOutcome::kStopped:
        return Outcome::kStopped;
      case WatchOutcome::kEnded:
        break;
      case WatchOutcome::kBrokenConnection:
        if (!sleep_for(clock_, backoff_.next(), stop)) return Outcome::kStopped;
        break;
      case WatchOutcome::kRelist:
        return Outcome::kRelist;
      case WatchOutcome::kFailed:
        return Outcome::kFailed;
    }
  }
}

bool Reflector::list(const ResourceType& type) {
  lists_.increment();
  ListOptions list_options;
  list_options.label_selector = options_.label_selector;
  list_options.field_selector = options_.field_selector;
  sink_.start_replace();
  auto version = list_all_pages(
      api_, type, options_.namespace_name, list_options, options_.page_size,
      [this](nlohmann::json item) { sink_.replace_item(std::move(item)); },
      [this] { sink_.start_replace(); });
  if (!version) {
    sink_.abandon_replace();
    logger_.warning(name_ + ": list failed: " + version.error().message());
    return false;
  }
  sink_.finish_replace();
  set_resource_version(*version);
  return true;
}

Reflector::WatchOutcome Reflector::watch_once(const ResourceType& type, std::stop_token stop) {
  WatchOptions watch_options;
  watch_options.resource_version = last_resource_version();
  watch_options.label_selector = options_.label_selector;
  watch_options.field_selector = options_.field_selector;
  watch_options.allow_bookmarks = true;
  watch_options.timeout_seconds =
      static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(
                           jitter(options_.minimum_watch_timeout, 1.0, random_))
                           .count());
  const MonotonicTime started = clock_.now();
  watches_.increment();
  auto stream = api_.watch(type, options_.namespace_name, watch_options);

  auto classify = [&](const ApiError& error) {
    if (error.is(ApiErrorKind::kStopped) || stop.stop_requested()) return WatchOutcome::kStopped;
    if (error.is(ApiErrorKind::kGone)) {
      restarts_.labels({name_, "gone"}).increment();
      logger_.info(name_ + ": resourceVersion " + watch_options.resource_version +
                   " is too old (410 Gone); relisting");
      return WatchOutcome::kRelist;
    }
    restarts_.labels({name_, "error"}).increment();
    logger_.warning(name_ + ": watch failed: " + error.message());
    return error.transient() ? WatchOutcome::kBrokenConnection : WatchOutcome::kFailed;
  };
  if (!stream) return classify(stream.error());

  WatchStream& watch = *stream.value();
  std::stop_callback cancel_on_stop(stop, [&watch] { watch.cancel(); });
  bool saw_event = false;
  while (true) {
    auto event = watch.next();
    if (!event) return classify(event.error());
    if (!event->has_value()) {
      if (!saw_event && clock_.now() - started < kShortestHealthyWatch) {
        restarts_.labels({name_, "error"}).increment();
        logger_.warning(name_ + ": the watch closed at once without an event");
        return WatchOutcome::kBrokenConnection;
      }
      return WatchOutcome::kEnded;
    }
    saw_event = true;
    WatchEvent& change = **event;
    const std::string version = resource_version_of(change.object);
    if (change.type != WatchEventType::kBookmark)
      sink_.apply(change.type, std::move(change.object));
    if (!version.empty()) set_resource_version(version);
  }
}

}  // namespace meshprobe::kube
