// The controller benchmark's client side (e2e/bench/controller/run drives it; see
// docs/benchmarks.md). Three subcommands, each one process, all through the project's own client
// runtime (controller/kube) against the real API server:
//
//   create   Deployments for the controller to rewrite: half with HTTP probes, half with TCP
//            probes, replicas 0 (no Pods: the cluster has no node), spread over namespaces.
//   ceiling  what the controller's work costs at the least: one list of the given namespaces,
//            then for each Deployment the rewritten template (the same engine,
//            probe::rewrite) as the controller's own JSON patch (template_patch: the changed
//            paths, guarded by the resourceVersion) and the HealthProbesRewritten condition as
//            the controller's own server-side apply on deployments/status
//            (status_condition_apply), and with --events the controller's Event too, from N
//            workers behind the same client-side rate limit (QPS, burst) the controller is
//            configured with. Nothing else: no cache, no decisions, no queue. Prints its wall
//            time.
//   wait     watches the Deployments of the given namespaces (an informer) until every one is
//            rewritten and carries the condition with status True (--until rewritten), or has
//            its original probes back and the condition with status False (--until
//            restored), or is settled: its current generation observed by the deployment
//            controller, which says NewReplicaSetAvailable (--until settled); prints the Unix
//            time at which that first held.
#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kube/api.h"
#include "kube/clock.h"
#include "kube/config.h"
#include "kube/discovery.h"
#include "kube/informer.h"
#include "kube/logger.h"
#include "kube/metrics.h"
#include "kube/random.h"
#include "kube/rest_client.h"
#include "kube/transport_cpprest.h"
#include "operator/conditions.h"
#include "operator/event_recorder.h"
#include "operator/workload_reconciler.h"
#include "probe/condition.h"
#include "probe/rewrite.h"

namespace meshprobe::bench {
namespace {

using nlohmann::json;
namespace options = boost::program_options;
namespace resources = kube::resources;

// The controller's own field manager, so that both write the same managedFields.
constexpr const char* kCeilingFieldManager = "meshprobe";

struct Connection {
  kube::RealClock clock;
  kube::RealRandom random;
  kube::StderrLogger logger{kube::LogLevel::kWarning};
  kube::MetricsRegistry metrics;
  kube::RestConfig config;
  std::unique_ptr<kube::CpprestTransport> transport;
  std::unique_ptr<kube::KubernetesApi> api;  // a RestClient
};

std::unique_ptr<Connection> connect(const std::string& kubeconfig, kube::RestClientOptions limits) {
  auto connection = std::make_unique<Connection>();
  auto config = kube::load_kubeconfig(kubeconfig);
  if (!config) throw std::runtime_error(config.error().message);
  connection->config = *config;
  connection->config.user_agent = "meshprobe-controller-bench";
  auto transport = kube::CpprestTransport::create(connection->config, connection->clock);
  if (!transport) throw std::runtime_error(transport.error().message);
  connection->transport = std::move(transport).value();
  connection->api = std::make_unique<kube::RestClient>(*connection->transport, limits,
                                                       connection->clock, connection->metrics);
  return connection;
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, ',');) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Runs work(index) for index in [0, count) on `workers` threads; returns the failures.
template <typename Work>
std::vector<std::string> run_parallel(std::size_t count, int workers, Work work) {
  std::atomic<std::size_t> next{0};
  std::mutex mutex;
  std::vector<std::string> failures;
  std::vector<std::jthread> threads;
  for (int worker = 0; worker < workers; ++worker) {
    threads.emplace_back([&] {
      for (std::size_t index = next++; index < count; index = next++) {
        if (auto failure = work(index)) {
          std::lock_guard lock(mutex);
          failures.push_back(*failure);
        }
      }
    });
  }
  threads.clear();
  return failures;
}

// Deployment `index`: even ones probe over HTTP, odd ones over TCP, as an application would.
json deployment(const std::string& namespace_name, std::size_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "app-%06zu", index);
  const bool http = index % 2 == 0;
  const json liveness =
      http ? json{{"httpGet", {{"path", "/healthz"}, {"port", 8080}}}, {"periodSeconds", 10}}
           : json{{"tcpSocket", {{"port", 8081}}}, {"periodSeconds", 10}};
  const json readiness = http ? json{{"httpGet", {{"path", "/ready"}, {"port", "http"}}}}
                              : json{{"tcpSocket", {{"port", "tcp"}}}};
  return {
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", {{"name", name}, {"namespace", namespace_name}, {"labels", {{"app", name}}}}},
      {"spec",
       {{"replicas", 0},
        {"selector", {{"matchLabels", {{"app", name}}}}},
        {"template",
         {{"metadata", {{"labels", {{"app", name}}}}},
          {"spec",
           {{"containers",
             json::array({{{"name", "app"},
                           {"image", "registry.local/app:1.0"},
                           {"ports", json::array({{{"name", "http"}, {"containerPort", 8080}},
                                                  {{"name", "tcp"}, {"containerPort", 8081}}})},
                           {"livenessProbe", liveness},
                           {"readinessProbe", readiness}}})}}}}}}}};
}

int create_command(const options::variables_map& arguments) {
  const auto namespaces = split(arguments["namespaces"].as<std::string>());
  const auto count = arguments["count"].as<std::size_t>();
  const auto first = arguments["first"].as<std::size_t>();
  auto connection =
      connect(arguments["kubeconfig"].as<std::string>(), {.queries_per_second = 400, .burst = 400});
  for (const auto& namespace_name : namespaces) {
    auto created = connection->api->create(
        resources::kNamespaces, "",
        {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", namespace_name}}}});
    if (!created && created.error().kind != kube::ApiErrorKind::kAlreadyExists) {
      std::cerr << "creating namespace " << namespace_name << ": " << created.error().message()
                << "\n";
      return 1;
    }
  }
  const auto started = std::chrono::steady_clock::now();
  auto failures =
      run_parallel(count, arguments["concurrency"].as<int>(),
                   [&](std::size_t offset) -> std::optional<std::string> {
                     const std::size_t index = first + offset;
                     const std::string& namespace_name = namespaces[index % namespaces.size()];
                     auto created = connection->api->create(resources::kDeployments, namespace_name,
                                                            deployment(namespace_name, index));
                     if (created || created.error().kind == kube::ApiErrorKind::kAlreadyExists)
                       return std::nullopt;
                     return created.error().message();
                   });
  for (const auto& failure : failures) std::cerr << failure << "\n";
  std::cerr << "created " << count - failures.size() << " Deployments in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
            << " s\n";
  return failures.empty() ? 0 : 1;
}

int ceiling_command(const options::variables_map& arguments) {
  const auto namespaces = split(arguments["namespaces"].as<std::string>());
  const kube::RestClientOptions limits{.queries_per_second = arguments["qps"].as<double>(),
                                       .burst = arguments["burst"].as<int>()};
  const probe::AgentConfig agent{.image = arguments["agent-image"].as<std::string>(),
                                 .port = arguments["agent-port"].as<int>()};
  const auto started = std::chrono::steady_clock::now();
  auto connection = connect(arguments["kubeconfig"].as<std::string>(), limits);
  std::vector<json> items;
  for (const auto& namespace_name : namespaces) {
    auto listed =
        kube::list_all_pages(*connection->api, resources::kDeployments, namespace_name, {}, 500,
                             [&](json item) { items.push_back(std::move(item)); });
    if (!listed) {
      std::cerr << "listing " << namespace_name << ": " << listed.error().message() << "\n";
      return 1;
    }
  }
  const auto listed_at = std::chrono::steady_clock::now();
  kube::PatchOptions field_manager;
  field_manager.field_manager = kCeilingFieldManager;
  kube::PatchOptions status_apply = field_manager;
  status_apply.force = true;
  status_apply.subresource = "status";
  std::atomic<int> retries{0};
  const bool with_events = arguments["events"].as<bool>();
  controller::EventRecorder events(*connection->api, connection->clock, "meshprobe-bench-ceiling",
                                   connection->metrics, connection->logger);
  auto failures = run_parallel(
      items.size(), arguments["workers"].as<int>(),
      [&](std::size_t index) -> std::optional<std::string> {
        json object = items[index];
        const std::string namespace_name = object["metadata"]["namespace"];
        const std::string name = object["metadata"]["name"];
        // As the controller does: when someone else wrote the Deployment since it was read (409
        // Conflict), read it again and retry.
        for (int attempt = 0;; ++attempt) {
          auto rewritten = probe::rewrite(object["spec"]["template"], agent);
          if (!rewritten) return name + ": " + rewritten.error().message;
          auto patched = connection->api->patch(
              resources::kDeployments, namespace_name, name, kube::PatchType::kJson,
              controller::template_patch(object["spec"]["template"], rewritten->pod_template,
                                         object["metadata"]["resourceVersion"]),
              field_manager);
          if (!patched) {
            if (!patched.error().is(kube::ApiErrorKind::kConflict) || attempt >= 3)
              return name + ": " + patched.error().message();
            ++retries;
            // The controller's RBAC has list, not get.
            kube::ListOptions only_this;
            only_this.field_selector = "metadata.name=" + name;
            auto fresh = connection->api->list(resources::kDeployments, namespace_name, only_this);
            if (!fresh || fresh->items.size() != 1) return name + ": could not read it again";
            object = std::move(fresh->items.front());
            continue;
          }
          const auto summary = probe::summarize(probe::Decision{}, *rewritten);
          if (with_events) {
            events.record({"apps/v1", "Deployment", namespace_name, name, object["metadata"]["uid"],
                           (*patched)["metadata"]["resourceVersion"]},
                          controller::EventType::kNormal, "Rewritten", "RewriteProbes",
                          summary.message);
          }
          const controller::Condition condition{
              std::string(probe::kConditionType), "True",
              std::string(probe::condition_reason_name(summary.reason)), summary.message,
              std::nullopt};
          const auto entry = controller::condition_to_write(
              json::array(), condition, controller::ConditionShape::kDeployment,
              controller::format_time(std::chrono::system_clock::now()));
          auto status = connection->api->patch(
              resources::kDeployments, namespace_name, name, kube::PatchType::kApply,
              controller::status_condition_apply(controller::workload_kinds().front(),
                                                 namespace_name, name, *entry)
                  .dump(),
              status_apply);
          if (!status) return name + ": " + status.error().message();
          return std::nullopt;
        }
      });
  for (const auto& failure : failures) std::cerr << failure << "\n";
  const auto finished = std::chrono::steady_clock::now();
  std::cout << json{{"deployments", items.size()},
                    {"failures", failures.size()},
                    {"retries", retries.load()},
                    {"list_seconds", std::chrono::duration<double>(listed_at - started).count()},
                    {"seconds", std::chrono::duration<double>(finished - started).count()}}
                   .dump()
            << std::endl;
  return failures.empty() ? 0 : 1;
}

// What `wait` keeps per Deployment.
struct Progress {
  bool rewritten = false;
  std::optional<bool> condition;  // HealthProbesRewritten's status, if present
  bool settled = false;           // observed by the deployment controller, rollout complete
};

Progress project_progress(const json& object, int agent_port) {
  Progress progress;
  if (auto found = object.find("spec"); found != object.end() && found->contains("template")) {
    progress.rewritten = probe::is_rewritten((*found)["template"], agent_port);
  }
  bool rollout_complete = false;
  if (auto status = object.find("status");
      status != object.end() && status->contains("conditions")) {
    for (const auto& condition : (*status)["conditions"]) {
      const std::string type = condition.value("type", "");
      if (type == probe::kConditionType)
        progress.condition = condition.value("status", "") == "True";
      if (type == "Progressing")
        rollout_complete = condition.value("reason", "") == "NewReplicaSetAvailable";
    }
    progress.settled = rollout_complete && object["metadata"].value("generation", 0) ==
                                               (*status).value("observedGeneration", -1);
  }
  return progress;
}

int wait_command(const options::variables_map& arguments) {
  const auto namespace_list = split(arguments["namespaces"].as<std::string>());
  const std::set<std::string> namespaces(namespace_list.begin(), namespace_list.end());
  const auto count = arguments["count"].as<std::size_t>();
  const std::string until = arguments["until"].as<std::string>();
  if (until != "rewritten" && until != "restored" && until != "settled") {
    std::cerr << "--until: rewritten, restored or settled\n";
    return 2;
  }
  const auto done_with = [&](const Progress& progress) {
    if (until == "settled") return progress.settled;
    if (until == "rewritten") return progress.rewritten && progress.condition == true;
    return !progress.rewritten && progress.condition == false;
  };
  const int agent_port = arguments["agent-port"].as<int>();
  auto connection =
      connect(arguments["kubeconfig"].as<std::string>(), {.queries_per_second = 50, .burst = 100});
  kube::Informer<Progress> informer(
      "deployments", *connection->api, kube::fixed_resource(resources::kDeployments),
      [&](const json& object) { return project_progress(object, agent_port); }, {},
      connection->clock, connection->random, connection->metrics, connection->logger);
  informer.start();
  std::stop_source never;
  informer.wait_for_sync(never.get_token());
  std::cout << "synced" << std::endl;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(arguments["timeout"].as<int>());
  std::size_t done = 0, seen = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    done = seen = 0;
    for (const auto& entry : informer.list()) {
      if (!namespaces.contains(entry->metadata.namespace_name)) continue;
      ++seen;
      if (done_with(entry->value)) ++done;
    }
    if (seen == count && done == count) {
      std::cout << std::fixed << unix_seconds() << std::endl;
      informer.stop();
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cerr << "timed out: " << done << " of " << seen << " Deployments (of " << count
            << " expected) " << until << "\n";
  informer.stop();
  return 1;
}

}  // namespace
}  // namespace meshprobe::bench

int main(int argc, char** argv) {
  namespace options = boost::program_options;
  using meshprobe::probe::kDefaultAgentPort;
  options::options_description described("controller_bench create|ceiling|wait [options]");
  described.add_options()("help", "this text")(
      "kubeconfig", options::value<std::string>()->required(), "kubeconfig to use")(
      "namespaces", options::value<std::string>()->required(), "comma-separated namespaces")(
      "count", options::value<std::size_t>()->default_value(0),
      "create, wait: how many Deployments")("first",
                                            options::value<std::size_t>()->default_value(0),
                                            "create: index of the first Deployment")(
      "concurrency", options::value<int>()->default_value(16), "create: requests in flight")(
      "workers", options::value<int>()->default_value(4), "ceiling: concurrent workers")(
      "qps", options::value<double>()->default_value(50), "ceiling: client-side QPS limit")(
      "burst", options::value<int>()->default_value(100), "ceiling: client-side burst")(
      "events", options::value<bool>()->default_value(false),
      "ceiling: also the controller's Event per Deployment")(
      "agent-image",
      options::value<std::string>()->default_value("ghcr.io/meshprobe/meshprobe-agent:0.1.0"),
      "ceiling: agent image")("agent-port", options::value<int>()->default_value(kDefaultAgentPort),
                              "ceiling, wait: agent port")(
      "until", options::value<std::string>()->default_value("rewritten"),
      "wait: rewritten, restored or settled")("timeout", options::value<int>()->default_value(1800),
                                              "wait: seconds");
  options::positional_options_description positional;
  positional.add("command", 1);
  options::options_description hidden;
  hidden.add_options()("command", options::value<std::string>());
  options::options_description all;
  all.add(described).add(hidden);
  options::variables_map arguments;
  try {
    options::store(
        options::command_line_parser(argc, argv).options(all).positional(positional).run(),
        arguments);
    if (arguments.count("help") || !arguments.count("command")) {
      std::cout << described;
      return arguments.count("help") ? 0 : 2;
    }
    options::notify(arguments);
  } catch (const options::error& error) {
    std::cerr << "controller_bench: " << error.what() << "\n" << described;
    return 2;
  }
  meshprobe::kube::initialize_cpprest_threads(8);
  const std::string command = arguments["command"].as<std::string>();
  try {
    if (command == "create") return meshprobe::bench::create_command(arguments);
    if (command == "ceiling") return meshprobe::bench::ceiling_command(arguments);
    if (command == "wait") return meshprobe::bench::wait_command(arguments);
  } catch (const std::exception& error) {
    std::cerr << "controller_bench: " << error.what() << "\n";
    return 1;
  }
  std::cerr << "controller_bench: unknown command " << command << "\n" << described;
  return 2;
}
