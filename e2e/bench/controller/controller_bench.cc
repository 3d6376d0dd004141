// The controller benchmark's client side (e2e/bench/controller/run drives it; see
// docs/benchmarks.md). Three subcommands, each one process, all through the project's own client
// runtime (controller/kube) against the real API server; --kinds says which workload kinds
// (Deployment, or mixed: Deployments, StatefulSets, DaemonSets and CronJobs in turn), one code
// path for all of them, read from the controller's table of kinds (operator/workload_kinds.h):
//
//   create   workloads for the controller to rewrite: half with HTTP probes, half with TCP
//            probes, no Pods (replicas 0, a suspended CronJob; the cluster has no node), spread
//            over namespaces labelled istio-injection=enabled (Istio's sidecar mesh: the global
//            toggle applies there only).
//   ceiling  what the controller's work costs at the least: one list of the namespaces (their
//            labels) and of the PeerAuthentications, one list per kind of the given namespaces,
//            then for each workload the controller's decision and rewrite (the same engine,
//            probe::decide and apply_decision, with the hold on Istio's rewrite) as the
//            controller's own JSON patch at the kind's template path (template_patch: the changed
//            paths, guarded by the resourceVersion) and the HealthProbesRewritten state as the
//            kind's StatusStyle writes it: the controller's own server-side apply on
//            <kind>/status (status_condition_apply), or for a CronJob its annotations
//            (state_annotations_patch); with --events the controller's Event too; from N
//            workers behind the same client-side rate limit (QPS, burst) the controller is
//            configured with. Nothing else: no cache, no queue, no pacing. Prints its wall time.
//   wait     watches the workloads of the given namespaces (an informer per kind) until every
//            one is rewritten and its state (condition or annotation) says True (--until
//            rewritten), or has its original probes back and the state False (--until
//            restored), or is settled: its rollout finished as the controller's rollout pacer
//            reads it (the kind's read_progress; a Deployment's Progressing condition also says
//            NewReplicaSetAvailable) (--until settled); prints the Unix time at which that first
//            held.
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
#include "operator/workload_kinds.h"
#include "operator/workload_reconciler.h"
#include "probe/condition.h"
#include "probe/decision.h"
#include "probe/peer_authentication.h"
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

// --kinds: "Deployment" (one kind), "mixed" (every kind the benchmark covers, in equal shares), or
// a comma-separated list of kinds. Workload `index` is of kind kinds[index % kinds.size()].
using Kinds = std::vector<const controller::WorkloadKind*>;
constexpr const char* kMixedKinds = "Deployment,StatefulSet,DaemonSet,CronJob";

Kinds parse_kinds(const std::string& text) {
  Kinds kinds;
  for (const auto& name : split(text == "mixed" ? kMixedKinds : text)) {
    const auto* kind = controller::find_workload_kind(name);
    // Rollouts need the Argo CRD and a conditional patch of the whole list: not benchmarked.
    if (!kind || kind->needs_discovery)
      throw std::runtime_error("--kinds: " + name + " is not one of " + kMixedKinds);
    kinds.push_back(kind);
  }
  if (kinds.empty()) throw std::runtime_error("--kinds: no kind");
  return kinds;
}

// Workload `index` of `kind`: even ones probe over HTTP, odd ones over TCP, as an application
// would. No Pods: replicas 0 (the cluster has no node, so a DaemonSet schedules none either), and
// a suspended CronJob. The pod template is the same for every kind, at the kind's template path.
json workload(const controller::WorkloadKind& kind, const std::string& namespace_name,
              std::size_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "app-%06zu", index);
  const bool http = index % 2 == 0;
  const json liveness =
      http ? json{{"httpGet", {{"path", "/healthz"}, {"port", 8080}}}, {"periodSeconds", 10}}
           : json{{"tcpSocket", {{"port", 8081}}}, {"periodSeconds", 10}};
  const json readiness = http ? json{{"httpGet", {{"path", "/ready"}, {"port", "http"}}}}
                              : json{{"tcpSocket", {{"port", "tcp"}}}};
  json pod_template = {
      {"metadata", {{"labels", {{"app", name}}}}},
      {"spec",
       {{"containers",
         json::array({{{"name", "app"},
                       {"image", "registry.local/app:1.0"},
                       {"ports", json::array({{{"name", "http"}, {"containerPort", 8080}},
                                              {{"name", "tcp"}, {"containerPort", 8081}}})},
                       {"livenessProbe", liveness},
                       {"readinessProbe", readiness}}})}}}};
  json object = {
      {"apiVersion", kind.resource.api_version()},
      {"kind", kind.kind},
      {"metadata", {{"name", name}, {"namespace", namespace_name}, {"labels", {{"app", name}}}}}};
  // What each kind needs besides its template.
  const json selector = {{"matchLabels", {{"app", name}}}};
  if (kind.kind == "Deployment") {
    object["spec"] = {{"replicas", 0}, {"selector", selector}};
  } else if (kind.kind == "StatefulSet") {
    object["spec"] = {{"replicas", 0}, {"selector", selector}, {"serviceName", name}};
  } else if (kind.kind == "DaemonSet") {
    object["spec"] = {{"selector", selector}};
  } else if (kind.kind == "CronJob") {
    object["spec"] = {{"schedule", "0 0 1 1 *"}, {"suspend", true}};
    pod_template["spec"]["restartPolicy"] = "OnFailure";
  }
  object[json::json_pointer(controller::template_pointer(kind))] = std::move(pod_template);
  return object;
}

int create_command(const options::variables_map& arguments) {
  const auto namespaces = split(arguments["namespaces"].as<std::string>());
  const auto kinds = parse_kinds(arguments["kinds"].as<std::string>());
  const auto count = arguments["count"].as<std::size_t>();
  const auto first = arguments["first"].as<std::size_t>();
  auto connection =
      connect(arguments["kubeconfig"].as<std::string>(), {.queries_per_second = 400, .burst = 400});
  for (const auto& namespace_name : namespaces) {
    // In Istio's sidecar mesh: the global toggle applies only there (docs/istio.md).
    auto created = connection->api->create(
        resources::kNamespaces, "",
        {{"apiVersion", "v1"},
         {"kind", "Namespace"},
         {"metadata", {{"name", namespace_name}, {"labels", {{"istio-injection", "enabled"}}}}}});
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
                     const auto& kind = *kinds[index % kinds.size()];
                     auto created = connection->api->create(kind.resource, namespace_name,
                                                            workload(kind, namespace_name, index));
                     if (created || created.error().kind == kube::ApiErrorKind::kAlreadyExists)
                       return std::nullopt;
                     return created.error().message();
                   });
  for (const auto& failure : failures) std::cerr << failure << "\n";
  std::cerr << "created " << count - failures.size() << " workloads in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
            << " s\n";
  return failures.empty() ? 0 : 1;
}

const kube::ResourceType kPeerAuthentications{"security.istio.io", "v1", "peerauthentications",
                                              "PeerAuthentication", true};

struct Listed {
  const controller::WorkloadKind* kind;
  json object;
};

int ceiling_command(const options::variables_map& arguments) {
  const auto namespaces = split(arguments["namespaces"].as<std::string>());
  const auto kinds = parse_kinds(arguments["kinds"].as<std::string>());
  const kube::RestClientOptions limits{.queries_per_second = arguments["qps"].as<double>(),
                                       .burst = arguments["burst"].as<int>()};
  const probe::AgentConfig agent{.image = arguments["agent-image"].as<std::string>(),
                                 .port = arguments["agent-port"].as<int>()};
  const auto started = std::chrono::steady_clock::now();
  auto connection = connect(arguments["kubeconfig"].as<std::string>(), limits);
  // What the decision needs, as the controller's caches have it: the namespaces' labels (the
  // mesh scope) and the PeerAuthentications.
  std::map<std::string, probe::Labels> namespace_labels;
  std::vector<probe::PeerAuthentication> peer_authentications;
  auto listed =
      kube::list_all_pages(*connection->api, resources::kNamespaces, "", {}, 500, [&](json item) {
        namespace_labels[item["metadata"]["name"]] =
            item["metadata"].value("labels", json::object()).get<probe::Labels>();
      });
  if (listed) {
    listed =
        kube::list_all_pages(*connection->api, kPeerAuthentications, "", {}, 500, [&](json item) {
          if (auto parsed = probe::parse_peer_authentication(item))
            peer_authentications.push_back(std::move(*parsed));
        });
  }
  std::vector<Listed> items;
  for (const auto* kind : kinds) {
    for (const auto& namespace_name : namespaces) {
      if (!listed) break;
      listed = kube::list_all_pages(*connection->api, kind->resource, namespace_name, {}, 500,
                                    [&](json item) {
                                      items.push_back({kind, std::move(item)});
                                    });
    }
  }
  if (!listed) {
    std::cerr << "listing: " << listed.error().message() << "\n";
    return 1;
  }
  const auto listed_at = std::chrono::steady_clock::now();
  // As the controller writes: its field manager, only the metadata of each answer parsed.
  const kube::PatchOptions object_patch{.field_manager = kCeilingFieldManager,
                                        .response = kube::ResponseFields::kMetadata};
  const kube::PatchOptions status_apply{.field_manager = kCeilingFieldManager,
                                        .force = true,
                                        .subresource = "status",
                                        .response = kube::ResponseFields::kMetadata};
  std::atomic<int> retries{0};
  const bool with_events = arguments["events"].as<bool>();
  controller::EventRecorder events(*connection->api, connection->clock, "meshprobe-bench-ceiling",
                                   connection->metrics, connection->logger);
  auto failures = run_parallel(
      items.size(), arguments["workers"].as<int>(),
      [&](std::size_t index) -> std::optional<std::string> {
        const controller::WorkloadKind& kind = *items[index].kind;
        json object = items[index].object;
        const std::string namespace_name = object["metadata"]["namespace"];
        const std::string name = object["metadata"]["name"];
        // As the controller does: when someone else wrote the workload since it was read (409
        // Conflict), read it again and retry.
        for (int attempt = 0;; ++attempt) {
          const json* pod_template = controller::find_pod_template(object, kind);
          if (!pod_template) return name + ": no pod template";
          // The same decision and rewrite as the controller's (workload_plan.cc), with the hold
          // on Istio's rewrite, and the condition of the template it converges to.
          probe::DecisionInput input;
          input.workload_kind = kind.kind;
          input.workload_metadata = &object["metadata"];
          input.pod_template = pod_template;
          input.namespace_name = namespace_name;
          if (auto found = namespace_labels.find(namespace_name); found != namespace_labels.end())
            input.namespace_labels = found->second;
          input.peer_authentications = peer_authentications;
          const probe::Decision decision = probe::decide(input);
          auto rewritten = probe::apply_decision(decision, *pod_template, agent);
          if (!rewritten) return name + ": " + rewritten.error().message;
          if (!rewritten->changed) return name + ": not rewritten: " + decision.message;
          auto converged = probe::apply_decision(decision, rewritten->pod_template, agent);
          if (!converged) return name + ": " + converged.error().message;
          auto patched = connection->api->patch(
              kind.resource, namespace_name, name, kube::PatchType::kJson,
              controller::template_patch(*pod_template, rewritten->pod_template,
                                         object["metadata"]["resourceVersion"],
                                         controller::template_pointer(kind)),
              object_patch);
          if (!patched) {
            if (!patched.error().is(kube::ApiErrorKind::kConflict) || attempt >= 3)
              return name + ": " + patched.error().message();
            ++retries;
            // The controller's RBAC has list, not get.
            kube::ListOptions only_this;
            only_this.field_selector = "metadata.name=" + name;
            auto fresh = connection->api->list(kind.resource, namespace_name, only_this);
            if (!fresh || fresh->items.size() != 1) return name + ": could not read it again";
            object = std::move(fresh->items.front());
            continue;
          }
          if (with_events) {
            events.record(
                {std::string(kind.resource.api_version()), std::string(kind.kind), namespace_name,
                 name, object["metadata"]["uid"], (*patched)["metadata"]["resourceVersion"]},
                controller::EventType::kNormal, "Rewritten", "RewriteProbes",
                probe::summarize(decision, *rewritten).message);
          }
          const auto summary = probe::summarize(decision, *converged);
          const controller::Condition condition{
              std::string(probe::kConditionType), summary.status ? "True" : "False",
              std::string(probe::condition_reason_name(summary.reason)), summary.message,
              std::nullopt};
          const auto entry = controller::condition_to_write(
              json::array(), condition, kind.condition_shape,
              controller::format_time(std::chrono::system_clock::now()));
          // The state as the kind's StatusStyle says (WorkloadReconciler::write_state).
          kube::ApiResult<json> state =
              kind.status == controller::StatusStyle::kAnnotations
                  ? connection->api->patch(
                        kind.resource, namespace_name, name, kube::PatchType::kMerge,
                        controller::state_annotations_patch(*entry).dump(), object_patch)
                  : connection->api->patch(
                        kind.resource, namespace_name, name, kube::PatchType::kApply,
                        controller::status_condition_apply(kind, namespace_name, name, *entry)
                            .dump(),
                        status_apply);
          if (!state) return name + ": " + state.error().message();
          return std::nullopt;
        }
      });
  for (const auto& failure : failures) std::cerr << failure << "\n";
  const auto finished = std::chrono::steady_clock::now();
  std::cout << json{{"workloads", items.size()},
                    {"failures", failures.size()},
                    {"retries", retries.load()},
                    {"list_seconds", std::chrono::duration<double>(listed_at - started).count()},
                    {"seconds", std::chrono::duration<double>(finished - started).count()}}
                   .dump()
            << std::endl;
  return failures.empty() ? 0 : 1;
}

// What `wait` keeps per workload.
struct Progress {
  bool rewritten = false;
  std::optional<bool> condition;  // HealthProbesRewritten's status, if present
  bool settled = false;           // the kind's controller observed it, rollout finished
};

Progress project_progress(const controller::WorkloadKind& kind, const json& object,
                          int agent_port) {
  Progress progress;
  if (const json* pod_template = controller::find_pod_template(object, kind)) {
    progress.rewritten = probe::is_rewritten(*pod_template, agent_port);
  }
  // Settled: what the controller's rollout pacer waits for (the kind's read_progress), and for
  // a Deployment also its Progressing condition's last word (NewReplicaSetAvailable), so that
  // the deployment controller has nothing left to write.
  progress.settled = kind.read_progress(object).finished;
  const json status = object.value("status", json::object());
  for (const auto& condition : status.value("conditions", json::array())) {
    const std::string type = condition.value("type", "");
    if (type == probe::kConditionType) progress.condition = condition.value("status", "") == "True";
    if (type == "Progressing" && condition.value("reason", "") != "NewReplicaSetAvailable")
      progress.settled = false;
  }
  if (kind.status == controller::StatusStyle::kAnnotations) {
    const json annotations =
        object.value("metadata", json::object()).value("annotations", json::object());
    if (auto found = annotations.find(std::string(controller::kStateStatusAnnotation));
        found != annotations.end() && found->is_string())
      progress.condition = *found == "True";
  }
  return progress;
}

int wait_command(const options::variables_map& arguments) {
  const auto namespace_list = split(arguments["namespaces"].as<std::string>());
  const std::set<std::string> namespaces(namespace_list.begin(), namespace_list.end());
  const auto kinds = parse_kinds(arguments["kinds"].as<std::string>());
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
  std::vector<std::unique_ptr<kube::Informer<Progress>>> informers;
  for (const auto* kind : kinds) {
    informers.push_back(std::make_unique<kube::Informer<Progress>>(
        kind->resource.plural, *connection->api, kube::fixed_resource(kind->resource),
        [kind, agent_port](const json& object) {
          return project_progress(*kind, object, agent_port);
        },
        kube::ReflectorOptions{}, connection->clock, connection->random, connection->metrics,
        connection->logger));
    informers.back()->start();
  }
  std::stop_source never;
  for (auto& informer : informers) informer->wait_for_sync(never.get_token());
  std::cout << "synced" << std::endl;
  const auto stop_all = [&] {
    for (auto& informer : informers) informer->stop();
  };
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(arguments["timeout"].as<int>());
  std::size_t done = 0, seen = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    done = seen = 0;
    for (auto& informer : informers) {
      for (const auto& entry : informer->list()) {
        if (!namespaces.contains(entry->metadata.namespace_name)) continue;
        ++seen;
        if (done_with(entry->value)) ++done;
      }
    }
    if (seen == count && done == count) {
      std::cout << std::fixed << unix_seconds() << std::endl;
      stop_all();
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cerr << "timed out: " << done << " of " << seen << " workloads (of " << count
            << " expected) " << until << "\n";
  stop_all();
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
      "kinds", options::value<std::string>()->default_value("mixed"),
      "create, ceiling, wait: Deployment, mixed (Deployment,StatefulSet,DaemonSet,CronJob in "
      "turn) or a comma-separated list of kinds")(
      "count", options::value<std::size_t>()->default_value(0), "create, wait: how many workloads")(
      "first", options::value<std::size_t>()->default_value(0),
      "create: index of the first workload")(
      "concurrency", options::value<int>()->default_value(16), "create: requests in flight")(
      "workers", options::value<int>()->default_value(4), "ceiling: concurrent workers")(
      "qps", options::value<double>()->default_value(50), "ceiling: client-side QPS limit")(
      "burst", options::value<int>()->default_value(100), "ceiling: client-side burst")(
      "events", options::value<bool>()->default_value(false),
      "ceiling: also the controller's Event per workload")(
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
