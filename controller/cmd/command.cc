#include "cmd/command.h"

#include <array>
#include <ostream>

namespace meshprobe::cmd {
namespace {

constexpr std::array<Subcommand, 4> kSubcommands{{
    {"controller",
     "run the operator: rewrite the probes of Deployments in the cluster, and keep them so",
     run_controller},
    {"inject", "rewrite the probes in Kubernetes manifests (or --restore them), offline",
     run_inject},
    {"preview", "show what the controller would do to each workload now, and why (read-only)",
     run_preview},
    {"version", "print the version and the default agent image", run_version},
}};

void print_help(std::ostream& out) {
  out << "meshprobe keeps liveness, readiness and startup probes working inside an Istio mesh.\n\n"
         "Usage: meshprobe COMMAND [OPTIONS]\n\nCommands:\n";
  for (const auto& command : kSubcommands) {
    out << "  " << command.name << std::string(12 - command.name.size(), ' ') << command.summary
        << "\n";
  }
  out << "\nRun 'meshprobe COMMAND --help' for a command's options.\n";
}

}  // namespace

std::span<const Subcommand> subcommands() { return kSubcommands; }

int run_meshprobe(const CommandArguments& arguments, CommandStreams& streams) {
  if (arguments.empty()) {
    print_help(streams.err);
    return kExitUsage;
  }
  const std::string& name = arguments.front();
  if (name == "--help" || name == "-h" || name == "help") {
    print_help(streams.out);
    return kExitOk;
  }
  for (const auto& command : kSubcommands) {
    if (command.name == name)
      return command.run(CommandArguments(arguments.begin() + 1, arguments.end()), streams);
  }
  streams.err << "meshprobe: unknown command \"" << name
              << "\"; run 'meshprobe --help' for the commands\n";
  return kExitUsage;
}

}  // namespace meshprobe::cmd
