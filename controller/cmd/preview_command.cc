// `meshprobe preview`: what the controller would do right now, read-only (docs/preview.md).
#include "cmd/preview_command.h"

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cmd/build_info.h"
#include "cmd/yaml_json.h"
#include "kube/clock.h"
#include "kube/metrics.h"
#include "kube/rest_client.h"
#include "kube/transport_cpprest.h"
#include "operator/preview.h"

namespace meshprobe::cmd {
namespace {

namespace options = boost::program_options;
using nlohmann::json;

constexpr std::string_view kUsage =
    "Usage: meshprobe preview [-n NAMESPACE] [-l SELECTOR] [--policy FILE] [--toggle on|off] "
    "[-o table|json|yaml]";

constexpr std::string_view kDescription = R"(
Shows, for every workload the controller considers, what it would do right now and why:
rewrite or restore its probes, or nothing; the reason its HealthProbesRewritten condition
would give; and each probe before -> after. Read-only: it lists and gets, and never writes.
The same decision and rewrite code as the controller, on the same view of the cluster.

  meshprobe preview                              every workload in every namespace
  kubectl meshprobe preview -n shop -l app=web   as a kubectl plugin (kubectl-meshprobe)
  meshprobe preview --policy policy.yaml         as if that HealthProbePolicy were applied
  meshprobe preview --toggle off                 as if the global switch were turned off

The controller's settings (agent image and port, root namespace, excluded namespaces) come
from --config FILE, else from the installed ConfigMap meshprobe-controller-config of
--controller-namespace, else the defaults. The API server: --kubeconfig, else $KUBECONFIG,
else the pod's service account, else ~/.kube/config. Needs get and list only: the ClusterRole
meshprobe-preview of the install.

Exit status: 0 done; 1 the API server unreachable, access forbidden, an unknown namespace, an
unreadable or invalid --policy or --config; 2 a wrong command line.
)";

Result<std::string> read_text(const std::string& path, std::istream& in) {
  std::ostringstream text;
  if (path == "-") {
    text << in.rdbuf();
    return text.str();
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) return Error{"cannot read " + path + ": " + std::strerror(errno)};
  text << file.rdbuf();
  return text.str();
}

// The controller's settings: --config FILE, else the installed ConfigMap, else the defaults.
// `note` says when the defaults were used (printed only when the preview succeeds, so that an
// error stays one line).
Result<controller::ControllerConfig> controller_settings(kube::KubernetesApi& api,
                                                         const PreviewCommandLine& command_line,
                                                         CommandStreams& streams,
                                                         std::string& note) {
  controller::ControllerConfig config;
  std::string text, source;
  if (!command_line.config_file.empty()) {
    auto read = read_text(command_line.config_file, streams.in);
    if (!read) return Error{"--config: " + read.error().message};
    text = *read;
    source = "--config " + command_line.config_file;
  } else {
    auto found = api.get(kube::resources::kConfigMaps, command_line.controller_namespace,
                         "meshprobe-controller-config");
    source = "ConfigMap " + command_line.controller_namespace + "/meshprobe-controller-config";
    if (found) {
      const json* data = found->contains("data") ? &(*found)["data"] : nullptr;
      if (data && data->contains("config.yaml") && (*data)["config.yaml"].is_string())
        text = (*data)["config.yaml"].get<std::string>();
    } else if (found.error().is(kube::ApiErrorKind::kNotFound) ||
               found.error().is(kube::ApiErrorKind::kForbidden)) {
      note = "no " + source + " to read; used the controller's defaults (--config FILE to say)";
    } else if (found.error().is(kube::ApiErrorKind::kTransport) ||
               found.error().is(kube::ApiErrorKind::kTimeout)) {
      return Error{"cannot reach the API server: " + found.error().message()};
    } else {
      return Error{"reading " + source + ": " + found.error().message()};
    }
  }
  if (!text.empty()) {
    if (auto applied = controller::apply_config_yaml(config, text); !applied)
      return Error{source + ": " + applied.error().message};
  }
  if (config.agent_image.empty()) config.agent_image = default_agent_image();
  return config;
}

Result<json> read_policy(const std::string& path, std::istream& in) {
  auto text = read_text(path, in);
  if (!text) return Error{"--policy: " + text.error().message};
  try {
    auto documents = YAML::LoadAll(*text);
    if (documents.size() != 1)
      return Error{"--policy " + path + ": expected one YAML document, found " +
                   std::to_string(documents.size())};
    auto object = yaml_to_json(documents.front());
    if (!object) return Error{"--policy " + path + ": " + object.error().message};
    return *object;
  } catch (const YAML::Exception& error) {
    return Error{"--policy " + path + ": not YAML: " + error.what()};
  }
}

std::string workload_name(const controller::WorkloadPreview& workload) {
  return workload.kind + "/" + workload.name;
}

void print_table(const std::vector<controller::WorkloadPreview>& workloads, std::ostream& out) {
  if (workloads.empty()) {
    out << "No workloads found.\n";
    return;
  }
  std::size_t namespace_width = 9, workload_width = 8, action_width = 6;
  for (const auto& workload : workloads) {
    namespace_width = std::max(namespace_width, workload.namespace_name.size());
    workload_width = std::max(workload_width, workload_name(workload).size());
    action_width = std::max(action_width, workload.action.size());
  }
  auto pad = [](const std::string& text, std::size_t width) {
    return text + std::string(width + 2 - std::min(width, text.size()), ' ');
  };
  out << pad("NAMESPACE", namespace_width) << pad("WORKLOAD", workload_width)
      << pad("ACTION", action_width) << "REASON\n";
  for (const auto& workload : workloads) {
    out << pad(workload.namespace_name, namespace_width)
        << pad(workload_name(workload), workload_width) << pad(workload.action, action_width)
        << workload.reason << "\n";
    const std::string indent = "    ";
    if (!workload.message.empty()) out << indent << "why: " << workload.message << "\n";
    for (const auto& note : workload.notes) out << indent << "note: " << note << "\n";
    for (const auto& probe : workload.probes) {
      out << indent << probe.container << " " << probe.probe << ": " << probe.before;
      if (!probe.after.empty()) {
        out << " → " << probe.after;
      } else {
        out << " (" << probe.outcome << (probe.reason.empty() ? "" : ": " + probe.reason) << ")";
      }
      out << "\n";
    }
  }
}

}  // namespace

Result<PreviewCommandLine, PreviewCommandError> parse_preview_command_line(
    const CommandArguments& arguments) {
  PreviewCommandLine command_line;
  std::string toggle, format = "table";
  options::options_description described("Options");
  described.add_options()("namespace,n",
                          options::value(&command_line.namespace_name)->value_name("NAMESPACE"),
                          "only the workloads of this namespace (default: every namespace)")(
      "selector,l", options::value(&command_line.label_selector)->value_name("SELECTOR"),
      "only the workloads with these labels (app=web,tier!=db)")(
      "policy", options::value(&command_line.policy_file)->value_name("FILE"),
      "as if this HealthProbePolicy (YAML; - for standard input) were applied")(
      "toggle", options::value(&toggle)->value_name("on|off"),
      "as if the global switch (rewriteAppHTTPProbe) were on or off")(
      "output,o", options::value(&format)->value_name("FORMAT"), "table (default), json or yaml")(
      "config", options::value(&command_line.config_file)->value_name("FILE"),
      "the controller's config file (default: the installed ConfigMap)")(
      "controller-namespace",
      options::value(&command_line.controller_namespace)->value_name("NAMESPACE"),
      "where meshprobe is installed (default meshprobe-system)")(
      "kubeconfig", options::value(&command_line.kubeconfig)->value_name("PATH"),
      "the API server and credentials (default $KUBECONFIG, else in-cluster, else ~/.kube/config)")(
      "context", options::value(&command_line.context)->value_name("NAME"),
      "the kubeconfig context to use")("help,h", "print this help");
  options::variables_map values;
  try {
    options::store(options::command_line_parser(arguments).options(described).run(), values);
    options::notify(values);
  } catch (const options::error& error) {
    return PreviewCommandError{error.what()};
  }
  if (values.count("help")) {
    std::ostringstream help;
    help << kUsage << "\n" << kDescription << "\n" << described;
    command_line.help = true;
    command_line.help_text = help.str();
    return command_line;
  }
  if (values.count("toggle")) {
    if (toggle != "on" && toggle != "off")
      return PreviewCommandError{"--toggle: expected on or off, got " + quoted_for_message(toggle)};
    command_line.toggle = toggle == "on";
  }
  if (format == "table") {
    command_line.format = PreviewFormat::kTable;
  } else if (format == "json") {
    command_line.format = PreviewFormat::kJson;
  } else if (format == "yaml") {
    command_line.format = PreviewFormat::kYaml;
  } else {
    return PreviewCommandError{"--output: expected table, json or yaml, got " +
                               quoted_for_message(format)};
  }
  return command_line;
}

int run_preview_against(kube::KubernetesApi& api, const PreviewCommandLine& command_line,
                        CommandStreams& streams) {
  auto fail = [&](const std::string& message) {
    streams.err << "meshprobe preview: " << printable_for_message(message) << "\n";
    return kExitFailure;
  };
  controller::PreviewRequest request;
  request.namespace_name = command_line.namespace_name;
  request.label_selector = command_line.label_selector;
  request.toggle = command_line.toggle;
  if (!command_line.policy_file.empty()) {
    auto policy = read_policy(command_line.policy_file, streams.in);
    if (!policy) return fail(policy.error().message);
    request.policy = *policy;
  }
  std::string note;
  auto config = controller_settings(api, command_line, streams, note);
  if (!config) return fail(config.error().message);
  request.options = controller::plan_options(*config);

  auto workloads = controller::preview(api, request);
  if (!workloads) return fail(workloads.error().message);
  if (!note.empty()) streams.err << "meshprobe preview: " << note << "\n";
  if (command_line.format == PreviewFormat::kTable) {
    print_table(*workloads, streams.out);
    return kExitOk;
  }
  json items = json::array();
  for (const auto& workload : *workloads) items.push_back(controller::to_json(workload));
  const json document = {{"workloads", std::move(items)}};
  if (command_line.format == PreviewFormat::kJson) {
    streams.out << document.dump(2) << "\n";
  } else {
    streams.out << json_to_yaml(document);
  }
  return kExitOk;
}

int run_preview(const CommandArguments& arguments, CommandStreams& streams) {
  auto parsed = parse_preview_command_line(arguments);
  if (!parsed) {
    streams.err << "meshprobe preview: " << parsed.error().message << "\n"
                << kUsage << "\nRun 'meshprobe preview --help' for details.\n";
    return parsed.error().exit_status;
  }
  if (parsed->help) {
    streams.out << parsed->help_text;
    return kExitOk;
  }
  const kube::EnvironmentLookup environment = kube::process_environment();
  auto rest_config = kube::resolve_rest_config(parsed->kubeconfig, parsed->context, environment);
  if (!rest_config) {
    streams.err << "meshprobe preview: no API server: " << rest_config.error().message << "\n";
    return kExitFailure;
  }
  rest_config->user_agent = "meshprobe-preview/" + std::string(version());
  kube::RealClock clock;
  kube::MetricsRegistry metrics;
  kube::initialize_cpprest_threads(4);
  auto transport = kube::CpprestTransport::create(*rest_config, clock);
  if (!transport) {
    streams.err << "meshprobe preview: cannot set up the connection to " << rest_config->server
                << ": " << transport.error().message << "\n";
    return kExitFailure;
  }
  kube::RestClient api(**transport, {.queries_per_second = 50, .burst = 100}, clock, metrics);
  const int status = run_preview_against(api, *parsed, streams);
  api.stop();
  return status;
}

}  // namespace meshprobe::cmd
