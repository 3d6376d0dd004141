// `meshprobe controller`: the operator, wired to the real world. Only here are real objects
// created (clock, transport, REST client, informers, leader election, health server); every
// part takes them through its constructor.
#include "cmd/controller_command.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "cmd/allocator.h"
#include "cmd/build_info.h"
#include "cmd/json_logger.h"
#include "kube/health_server.h"
#include "kube/leader_election.h"
#include "kube/rest_client.h"
#include "kube/transport_cpprest.h"
#include "operator/operator.h"
#include "operator/workload_plan.h"

namespace meshprobe::cmd {
namespace {

namespace options = boost::program_options;
using controller::ControllerConfig;

constexpr std::string_view kUsage =
    "Usage: meshprobe controller [--config FILE] [--kubeconfig PATH] [OPTIONS]";

constexpr std::string_view kDescription = R"(
Runs the meshprobe operator: watches Deployments, Namespaces, PeerAuthentications,
HealthProbePolicies and the istio-sidecar-injector ConfigMap, and rewrites (or restores) the
probes of every Deployment, StatefulSet, DaemonSet, CronJob and Argo Rollout as the most
specific of them decides, reporting on the condition
HealthProbesRewritten and with Events. Settings come from --config FILE (the keys of
config/manager/controller_config.yaml); each flag below overrides the key named in brackets.
The API server: --kubeconfig, else $KUBECONFIG, else the pod's service account, else
~/.kube/config. SIGTERM or SIGINT: stop taking work, finish what is in flight, release the
leader Lease, exit 0. Exit status 1: the API server is unreachable at start, or leadership
was lost; 2: a wrong command line or config.
)";

struct SettingFlag {
  std::string_view flag;
  std::string_view key;
  std::string_view value_name;
  std::string_view help;
};

// Every config key has a flag of the same meaning.
constexpr SettingFlag kSettingFlags[] = {
    {"agent-image", "agentImage", "IMAGE",
     "the agent container's image (default: this build's agent image)"},
    {"agent-port", "agentPort", "PORT",
     "the agent's port, outside Istio's reserved 15000-15099 (default 15120)"},
    {"root-namespace", "rootNamespace", "NAMESPACE",
     "Istio's root namespace: mesh-wide policies and the injector ConfigMap (default "
     "istio-system)"},
    {"default-rewrite", "defaultRewrite", "true|false",
     "the global toggle's value when the controller creates the injector ConfigMap (default true)"},
    {"excluded-namespaces", "excludedNamespaces", "NS,NS",
     "namespaces whose workloads are never touched (default "
     "kube-system,kube-public,kube-node-lease)"},
    {"workers", "workers", "N", "workloads reconciled in parallel (default 4)"},
    {"max-concurrent-rollouts", "maxConcurrentRollouts", "N",
     "workloads meshprobe changed whose rollout has not finished, at most; 0: no limit "
     "(default 10)"},
    {"rollout-deadline", "rolloutDeadline", "DURATION",
     "how long meshprobe waits for one such rollout before it reports it and stops waiting "
     "(default 10m)"},
    {"rewrite-owned-templates", "rewriteOwnedTemplates", "true|false",
     "also write pod templates another controller owns (default false)"},
    {"api-qps", "apiQPS", "QPS", "client-side limit of API requests per second (default 50)"},
    {"api-burst", "apiBurst", "N", "client-side burst of API requests (default 100)"},
    {"leader-elect", "leaderElection.enabled", "[=true|false]",
     "elect one active replica on a Lease (--leader-elect alone turns it on; the install does); "
     "off: this process is always active (default false)"},
    {"leader-election-namespace", "leaderElection.namespace", "NAMESPACE",
     "the Lease's namespace (default $POD_NAMESPACE, else meshprobe-system)"},
    {"lease-name", "leaderElection.leaseName", "NAME",
     "the Lease's name (default meshprobe-controller)"},
    {"lease-duration", "leaderElection.leaseDuration", "DURATION",
     "how long other candidates wait before taking over an unrenewed Lease (default 15s)"},
    {"renew-deadline", "leaderElection.renewDeadline", "DURATION",
     "how long the leader tries to renew before it stops leading (default 10s)"},
    {"retry-period", "leaderElection.retryPeriod", "DURATION",
     "the interval between tries to acquire or renew (default 2s)"},
    {"health-probe-bind-address", "healthProbeBindAddress", "[HOST]:PORT",
     "where /healthz and /readyz are served; 0 turns it off (default :8081)"},
    {"metrics-bind-address", "metricsBindAddress", "[HOST]:PORT",
     "where /metrics is served (Prometheus text); 0 turns it off (default :8080)"},
    {"log-level", "log.level", "LEVEL", "debug, info, warning or error (default info)"},
    {"log-format", "log.format", "FORMAT",
     "text (readable, the default) or json (one object a line)"},
};

Result<std::string, CommandLineError> read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    return CommandLineError{"cannot read --config " + path + ": " + std::strerror(errno),
                            kExitFailure};
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

kube::LogLevel log_level(const std::string& name) {
  if (name == "debug") return kube::LogLevel::kDebug;
  if (name == "warning") return kube::LogLevel::kWarning;
  if (name == "error") return kube::LogLevel::kError;
  return kube::LogLevel::kInfo;
}

// ":8081" -> {0.0.0.0, 8081}; "127.0.0.1:0"; "[::1]:8080"; "0" -> nullopt (off).
std::optional<kube::HealthServerOptions> bind_address(const std::string& text) {
  if (text == "0") return std::nullopt;
  const auto colon = text.rfind(':');
  kube::HealthServerOptions server;
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  server.address = host.empty() ? "0.0.0.0" : host;
  server.port = static_cast<std::uint16_t>(std::stoi(text.substr(colon + 1)));
  return server;
}

std::string replica_identity(const kube::EnvironmentLookup& environment, kube::Random& random) {
  if (auto pod = environment("POD_NAME"); pod && !pod->empty()) return *pod;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::ostringstream identity;
  identity << host << "_" << std::hex << std::setw(8) << std::setfill('0')
           << static_cast<unsigned>(random.uniform() * 4294967295.0);
  return identity.str();
}

// Set by a signal or by lost leadership; main() waits for it.
class ShutdownRequest {
 public:
  void request(int exit_status) {
    {
      std::lock_guard lock(mutex_);
      if (requested_) return;
      requested_ = true;
      exit_status_ = exit_status;
    }
    source_.request_stop();
    changed_.notify_all();
  }
  int wait() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return requested_; });
    return exit_status_;
  }
  std::stop_token token() const { return source_.get_token(); }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool requested_ = false;
  int exit_status_ = kExitOk;
  std::stop_source source_;
};

std::string cache_summary(const controller::ClusterCache& cache) {
  return std::to_string(cache.workloads.size()) + " workloads, " +
         std::to_string(cache.namespaces.size()) + " Namespaces, " +
         std::to_string(cache.policies.size()) + " HealthProbePolicies, " +
         std::to_string(cache.peer_authentications.size()) + " PeerAuthentications, " +
         std::to_string(cache.authorization_policies.size()) + " AuthorizationPolicies";
}

}  // namespace

Result<ControllerCommandLine, CommandLineError> parse_controller_command_line(
    const CommandArguments& arguments, const kube::EnvironmentLookup& environment) {
  ControllerCommandLine command_line;
  std::string config_file;
  options::options_description described("Options");
  described.add_options()("config", options::value(&config_file)->value_name("FILE"),
                          "a YAML file with the keys of config/manager/controller_config.yaml")(
      "kubeconfig", options::value(&command_line.kubeconfig)->value_name("PATH"),
      "the API server and credentials (default $KUBECONFIG, else in-cluster, else ~/.kube/config)")(
      "context", options::value(&command_line.context)->value_name("NAME"),
      "the kubeconfig context to use");
  for (const auto& flag : kSettingFlags) {
    const std::string help = std::string(flag.help) + " [" + std::string(flag.key) + "]";
    auto* value = options::value<std::string>()->value_name(std::string(flag.value_name));
    // A switch as kubebuilder's --leader-elect: alone it means true; --flag=false turns it off.
    if (flag.value_name.front() == '[') value->implicit_value("true");
    described.add_options()(std::string(flag.flag).c_str(), value, help.c_str());
  }
  described.add_options()("help,h", "print this help");

  options::variables_map values;
  try {
    options::store(options::command_line_parser(arguments).options(described).run(), values);
    options::notify(values);
  } catch (const options::error& error) {
    return CommandLineError{error.what()};
  }
  if (values.count("help")) {
    std::ostringstream help;
    help << kUsage << "\n" << kDescription << "\n" << described;
    command_line.help = true;
    command_line.help_text = help.str();
    return command_line;
  }

  ControllerConfig& config = command_line.config;
  if (!config_file.empty()) {
    auto text = read_file(config_file);
    if (!text) return text.error();
    if (auto applied = controller::apply_config_yaml(config, *text); !applied) {
      return CommandLineError{"--config " + config_file + ": " + applied.error().message,
                              kExitUsage};
    }
  }
  for (const auto& flag : kSettingFlags) {
    if (!values.count(std::string(flag.flag))) continue;
    const auto& text = values[std::string(flag.flag)].as<std::string>();
    if (auto set = controller::set_setting(config, flag.key, text); !set) {
      return CommandLineError{"--" + std::string(flag.flag) + ": " + set.error().message};
    }
  }
  if (config.agent_image.empty()) config.agent_image = default_agent_image();
  if (config.leader_election.namespace_name.empty()) {
    auto pod_namespace = environment("POD_NAMESPACE");
    config.leader_election.namespace_name =
        pod_namespace && !pod_namespace->empty()
            ? *pod_namespace
            : std::string(controller::kDefaultControllerNamespace);
  }
  if (auto valid = controller::validate(config); !valid)
    return CommandLineError{valid.error().message};
  return command_line;
}

int run_controller(const CommandArguments& arguments, CommandStreams& streams) {
  const kube::EnvironmentLookup environment = kube::process_environment();
  auto parsed = parse_controller_command_line(arguments, environment);
  if (!parsed) {
    streams.err << "meshprobe controller: " << parsed.error().message << "\n";
    if (parsed.error().exit_status == kExitUsage) {
      streams.err << kUsage << "\nRun 'meshprobe controller --help' for details.\n";
    }
    return parsed.error().exit_status;
  }
  if (parsed->help) {
    streams.out << parsed->help_text;
    return kExitOk;
  }
  const ControllerConfig& config = parsed->config;

  tune_allocator();

  // SIGINT and SIGTERM are taken by one thread (sigtimedwait) rather than a handler: every
  // thread started below inherits the blocked mask.
  sigset_t shutdown_signals;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGINT);
  sigaddset(&shutdown_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);

  kube::RealClock clock;
  kube::RealRandom random;
  kube::MetricsRegistry metrics;
  std::unique_ptr<kube::Logger> logger;
  if (config.log_format == controller::LogFormat::kJson) {
    logger = std::make_unique<JsonLogger>(streams.err, log_level(config.log_level));
  } else {
    logger = std::make_unique<kube::StderrLogger>(log_level(config.log_level));
  }

  auto rest_config = kube::resolve_rest_config(parsed->kubeconfig, parsed->context, environment);
  if (!rest_config) {
    logger->error("no API server: " + rest_config.error().message);
    return kExitFailure;
  }
  rest_config->queries_per_second = config.api_qps;
  rest_config->burst = config.api_burst;
  rest_config->user_agent = "meshprobe/" + std::string(version());
  kube::initialize_cpprest_threads(static_cast<std::size_t>(config.workers) + 8);
  auto transport = kube::CpprestTransport::create(*rest_config, clock);
  if (!transport) {
    logger->error("cannot set up the connection to " + rest_config->server + ": " +
                  transport.error().message);
    return kExitFailure;
  }
  const kube::RestClientOptions client_options{.queries_per_second = config.api_qps,
                                               .burst = config.api_burst,
                                               .host = kube::server_host(rest_config->server)};
  kube::RestClient api(**transport, client_options, clock, metrics);
  // Events get a rate limit of their own (as client-go's event broadcaster does), so they never
  // take the budget of the template and status writes.
  kube::RestClient events_api(**transport, client_options, clock, metrics);
  // The Lease has a client of its own: the write fence below closes the other two when this
  // replica stops leading, and the Lease must still be released after that.
  kube::RestClient lease_api(**transport, client_options, clock, metrics);
  // The fence: once leadership is lost or a stop is requested, not one more write (the workers
  // stop by the Lease's token or by stop(); docs/operations.md "Fencing").
  const auto fence_writes = [&](const std::string& reason) {
    api.fence_writes(reason);
    events_api.fence_writes(reason);
  };

  controller::OperatorOptions operator_options;
  operator_options.workloads = controller::plan_options(config);  // as `meshprobe preview`
  operator_options.rollouts = {config.max_concurrent_rollouts, config.rollout_deadline};
  operator_options.workers = config.workers;
  operator_options.identity = replica_identity(environment, random);
  controller::Operator meshprobe_operator(api, events_api, operator_options, clock, random, metrics,
                                          *logger);

  ShutdownRequest shutdown;
  std::jthread signal_waiter([&](std::stop_token stop) {
    const timespec poll{0, 200'000'000};
    while (!stop.stop_requested()) {
      const int signal = sigtimedwait(&shutdown_signals, nullptr, &poll);
      if (signal > 0) {
        logger->info(std::string("received SIG") + sigabbrev_np(signal) +
                     ": finishing in-flight work, then exiting");
        shutdown.request(kExitOk);
        return;
      }
    }
  });

  std::unique_ptr<kube::LeaderElector> elector;
  std::string lease_name;
  if (config.leader_election.enabled) {
    const auto& election = config.leader_election;
    const kube::LeaderElectionConfig lease{election.namespace_name,   election.lease_name,
                                           operator_options.identity, election.lease_duration,
                                           election.renew_deadline,   election.retry_period};
    lease_name = lease.namespace_name + "/" + lease.name;
    kube::LeaderCallbacks callbacks;
    callbacks.on_started_leading = [&](std::stop_token leading) {
      logger->info("leading (Lease " + lease_name + "): reconciling");
      // The workers stop with `leading`, on the deadline timer's thread, before the callback
      // below runs.
      meshprobe_operator.start_workers(leading);
    };
    callbacks.on_stopped_leading = [&] {
      fence_writes("this replica stopped leading (Lease " + lease_name + ")");
      if (shutdown.token().stop_requested()) return;
      logger->error("lost the Lease " + lease_name + ": exiting");
      shutdown.request(kExitFailure);
    };
    callbacks.on_new_leader = [&](const std::string& identity) {
      if (identity != operator_options.identity) logger->info("the leader is " + identity);
    };
    elector = std::make_unique<kube::LeaderElector>(lease_api, lease, callbacks, clock, random,
                                                    metrics, *logger);
  }

  // /healthz, /readyz and /metrics, on one server when both addresses are the same.
  kube::HealthEndpoints endpoints(metrics);
  endpoints.add_readiness_check("informers-synced", [&]() -> std::optional<std::string> {
    if (meshprobe_operator.has_synced()) return std::nullopt;
    return "the caches have not synced yet";
  });
  if (elector) {
    // A standby replica is ready (kubebuilder's convention); one that cannot compete is not.
    endpoints.add_readiness_check("leader-election", [&]() -> std::optional<std::string> {
      if (auto problem = elector->problem()) return "waiting for leadership: " + *problem;
      return std::nullopt;
    });
  }
  std::vector<std::unique_ptr<kube::HealthServer>> servers;
  std::vector<std::string> addresses{config.health_probe_bind_address};
  if (config.metrics_bind_address != config.health_probe_bind_address)
    addresses.push_back(config.metrics_bind_address);
  for (const auto& address : addresses) {
    auto server_options = bind_address(address);
    if (!server_options) continue;
    auto server = std::make_unique<kube::HealthServer>(*server_options, endpoints, *logger);
    auto port = server->start();
    if (!port) {
      logger->error("cannot serve on " + address + ": " + port.error().message);
      return kExitFailure;
    }
    servers.push_back(std::move(server));
  }

  logger->info("meshprobe " + std::string(version()) + " controller starting as " +
               operator_options.identity + " against " + rest_config->server + " (" +
               rest_config->source + "); agent image " + config.agent_image + ", agent port " +
               std::to_string(config.agent_port) + "; memory: " + allocator_description());
  meshprobe_operator.start_informers();
  if (meshprobe_operator.wait_for_sync(shutdown.token())) {
    logger->info("caches synced: " + cache_summary(meshprobe_operator.cache()));
    // The first lists parsed whole pages of JSON; give that memory back to the system.
    release_free_memory();
    if (elector) {
      logger->info("waiting to lead (Lease " + lease_name + ")");
      elector->start();
    } else {
      logger->info("leading (leader election off): reconciling");
      meshprobe_operator.start_workers();
    }
  }

  const int exit_status = shutdown.wait();
  // Stop acting before giving the Lease up: a successor must never overlap with our writes.
  fence_writes("this replica is stopping");
  meshprobe_operator.stop();
  if (elector) elector->stop();
  for (auto& server : servers) server->stop();
  api.stop();
  events_api.stop();
  lease_api.stop();
  logger->info("stopped");
  return exit_status;
}

}  // namespace meshprobe::cmd
