#include "kube/reflector.h"

#include "kube/rest_client.h"

namespace meshprobe::kube {
namespace {

// A watch the server closes this fast without an event is as bad as a failure (client-go's
// "very short watch"): back off instead of spinning.
constexpr std::chrono::seconds kShortestHealthyWatch{1};

std::string resourceVersionOf(const nlohmann::json& object) {
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
  thread_.request_stop();  // the stop callback in watchOnce() cancels a blocked watch
  thread_.join();
}

std::string Reflector::lastResourceVersion() const {
  std::lock_guard lock(mutex_);
  return resourceVersion_;
}

void Reflector::setResourceVersion(const std::string& version) {
  std::lock_guard lock(mutex_);
  resourceVersion_ = version;
}

void Reflector::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    switch (listAndWatch(stop)) {
      case Outcome::kStopped:
        return;
      case Outcome::kFailed:
        if (!sleepFor(clock_, backoff_.next(), stop)) return;
        break;
      case Outcome::kNotServed:
        if (!sleepFor(clock_, options_.discoveryInterval, stop)) return;
        break;
      case Outcome::kRelist:
        break;
    }
  }
}

Reflector::Outcome Reflector::listAndWatch(std::stop_token stop) {
  if (stop.stop_requested()) return Outcome::kStopped;
  auto resolved = resolve_();
  if (!resolved) {
    logger_.warning(name_ + ": discovery failed: " + resolved.error().message());
    return Outcome::kFailed;
  }
  if (!resolved->has_value()) {
    if (served_) {
      logger_.info(name_ + ": not served by the API server (CRD not installed?); the cache stays "
                           "empty and discovery is asked again every " +
                   std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                      options_.discoveryInterval)
                                      .count()) +
                   "s");
    }
    served_ = false;
    sink_.startReplace();
    sink_.finishReplace();
    setResourceVersion("");
    return Outcome::kNotServed;
  }
  const ResourceType type = **resolved;
  if (!served_) logger_.info(name_ + ": now served as " + type.apiVersion());
  served_ = true;
  if (!list(type)) return Outcome::kFailed;
  while (true) {
    switch (watchOnce(type, stop)) {
      case WatchOutcome::kStopped:
        return Outcome::kStopped;
      case WatchOutcome::kEnded:
        break;
      case WatchOutcome::kBrokenConnection:
        if (!sleepFor(clock_, backoff_.next(), stop)) return Outcome::kStopped;
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
  ListOptions listOptions;
  listOptions.labelSelector = options_.labelSelector;
  listOptions.fieldSelector = options_.fieldSelector;
  sink_.startReplace();
  auto version = listAllPages(
      api_, type, options_.namespaceName, listOptions, options_.pageSize,
      [this](nlohmann::json item) { sink_.replaceItem(std::move(item)); },
      [this] { sink_.startReplace(); });
  if (!version) {
    sink_.abandonReplace();
    logger_.warning(name_ + ": list failed: " + version.error().message());
    return false;
  }
  sink_.finishReplace();
  setResourceVersion(*version);
  return true;
}

Reflector::WatchOutcome Reflector::watchOnce(const ResourceType& type, std::stop_token stop) {
  WatchOptions watchOptions;
  watchOptions.resourceVersion = lastResourceVersion();
  watchOptions.labelSelector = options_.labelSelector;
  watchOptions.fieldSelector = options_.fieldSelector;
  watchOptions.allowBookmarks = true;
  watchOptions.timeoutSeconds = static_cast<int>(
      std::chrono::duration_cast<std::chrono::seconds>(
          jitter(options_.minimumWatchTimeout, 1.0, random_))
          .count());
  const MonotonicTime started = clock_.now();
  watches_.increment();
  auto stream = api_.watch(type, options_.namespaceName, watchOptions);

  auto classify = [&](const ApiError& error) {
    if (error.is(ApiErrorKind::kStopped) || stop.stop_requested()) return WatchOutcome::kStopped;
    if (error.is(ApiErrorKind::kGone)) {
      restarts_.labels({name_, "gone"}).increment();
      logger_.info(name_ + ": resourceVersion " + watchOptions.resourceVersion +
                   " is too old (410 Gone); relisting");
      return WatchOutcome::kRelist;
    }
    restarts_.labels({name_, "error"}).increment();
    logger_.warning(name_ + ": watch failed: " + error.message());
    return error.transient() ? WatchOutcome::kBrokenConnection : WatchOutcome::kFailed;
  };
  if (!stream) return classify(stream.error());

  WatchStream& watch = *stream.value();
  std::stop_callback cancelOnStop(stop, [&watch] { watch.cancel(); });
  bool sawEvent = false;
  while (true) {
    auto event = watch.next();
    if (!event) return classify(event.error());
    if (!event->has_value()) {
      if (!sawEvent && clock_.now() - started < kShortestHealthyWatch) {
        restarts_.labels({name_, "error"}).increment();
        logger_.warning(name_ + ": the watch closed at once without an event");
        return WatchOutcome::kBrokenConnection;
      }
      return WatchOutcome::kEnded;
    }
    sawEvent = true;
    WatchEvent& change = **event;
    const std::string version = resourceVersionOf(change.object);
    if (change.type != WatchEventType::kBookmark) sink_.apply(change.type, std::move(change.object));
    if (!version.empty()) setResourceVersion(version);
  }
}

}  // namespace meshprobe::kube
