// `meshprobe inject`: reads the manifests, runs inject() on them, writes the result to
// standard output and the warnings to standard error. Nothing reaches standard output unless
// every document was processed.
#include <boost/program_options.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cmd/build_info.h"
#include "cmd/command.h"
#include "cmd/inject.h"
#include "probe/names.h"

namespace meshprobe::cmd {
namespace {

namespace options = boost::program_options;

constexpr std::string_view kUsage =
    "Usage: meshprobe inject -f FILE|- [--restore] [--agent-image IMAGE] [--agent-port PORT]";

constexpr std::string_view kDescription = R"(
Reads Kubernetes manifests (multi-document YAML) and writes them to standard output with the
liveness, readiness and startup probes and the preStop/postStart hooks of every pod template
pointed at the meshprobe agent, which is added as a native sidecar; --restore undoes that.
The same engine as the controller, offline, like `istioctl kube-inject -f`:

  kubectl apply -f <(meshprobe inject -f app.yaml)
  meshprobe inject -f rewritten.yaml --restore > app.yaml

Pod templates are found in Pods, PodTemplates, ReplicationControllers, Deployments,
ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs and the items of Lists. Every other
document, and every document with nothing to change, is copied through as it is, in order.
A pod template annotated sidecar.istio.io/rewriteAppHTTPProbers: "false" is left (or put
back) as it is, as the controller would.

httpGet, tcpSocket and grpc actions are rewritten; exec and sleep are never touched. A probe
that cannot be rewritten (a named port its container does not declare, a host other than the
pod itself) is left as it was and reported on standard error.

Exit status: 0 done (warnings may be on standard error); 1 bad input: malformed YAML, a
document that is not a mapping, a malformed probe (no action or two, a port out of range),
or an unreadable file: one message names the document and the field, and nothing is written
to standard output; 2 a wrong command line.
)";

options::options_description option_descriptions(InjectOptions& inject_options,
                                                 std::string& filename) {
  options::options_description described("Options");
  described.add_options()("filename,f", options::value(&filename)->value_name("FILE"),
                          "the manifests to read; - for standard input (required)")(
      "restore", options::bool_switch(&inject_options.restore),
      "undo a rewrite: put the original probes back, remove the agent and meshprobe's annotations")(
      "agent-image",
      options::value(&inject_options.agent.image)
          ->value_name("IMAGE")
          ->default_value(default_agent_image()),
      "the agent container's image")(
      "agent-port",
      options::value(&inject_options.agent.port)
          ->value_name("PORT")
          ->default_value(probe::kDefaultAgentPort),
      "the port the agent listens on; outside Istio's reserved 15000-15099")("help,h",
                                                                             "print this help");
  return described;
}

Result<std::string> read_input(const std::string& filename, std::istream& standard_input) {
  std::ostringstream text;
  if (filename == "-") {
    text << standard_input.rdbuf();
    if (standard_input.bad()) return Error{"cannot read standard input"};
    return text.str();
  }
  std::error_code error;
  if (std::filesystem::is_directory(filename, error))
    return Error{"cannot read " + filename + ": it is a directory"};
  std::ifstream file(filename, std::ios::binary);
  if (!file) return Error{"cannot read " + filename + ": " + std::strerror(errno)};
  text << file.rdbuf();
  if (file.bad()) return Error{"cannot read " + filename + ": " + std::strerror(errno)};
  return text.str();
}

int usage_error(CommandStreams& streams, const std::string& problem) {
  streams.err << "meshprobe inject: " << problem << "\n"
              << kUsage << "\nRun 'meshprobe inject --help' for details.\n";
  return kExitUsage;
}

}  // namespace

int run_inject(const CommandArguments& arguments, CommandStreams& streams) {
  InjectOptions inject_options;
  std::string filename;
  const auto described = option_descriptions(inject_options, filename);
  options::variables_map values;
  try {
    options::store(options::command_line_parser(arguments).options(described).run(), values);
    options::notify(values);
  } catch (const options::error& error) {
    return usage_error(streams, error.what());
  }
  if (values.count("help")) {
    streams.out << kUsage << "\n" << kDescription << "\n" << described;
    return kExitOk;
  }
  if (filename.empty())
    return usage_error(streams, "-f FILE (or -f - for standard input) is required");
  const int port = inject_options.agent.port;
  if (port < 1 || port > 65535)
    return usage_error(streams, "--agent-port must be in 1..65535, got " + std::to_string(port));
  if (port >= 15000 && port <= 15099) {
    return usage_error(streams, "--agent-port " + std::to_string(port) +
                                    " is in Istio's reserved range 15000-15099");
  }
  if (inject_options.agent.image.empty())
    return usage_error(streams, "--agent-image must not be empty");

  auto input = read_input(filename, streams.in);
  if (!input) {
    streams.err << "meshprobe inject: error: " << input.error().message << "\n";
    return kExitFailure;
  }
  auto output = inject(*input, inject_options);
  if (!output) {
    streams.err << "meshprobe inject: error: " << output.error().message << "\n";
    return kExitFailure;
  }
  for (const auto& warning : output->warnings)
    streams.err << "meshprobe inject: warning: " << warning << "\n";
  streams.out << output->manifests;
  return kExitOk;
}

}  // namespace meshprobe::cmd
