#include <ostream>

#include "cmd/build_info.h"
#include "cmd/command.h"

namespace meshprobe::cmd {

int run_version(const CommandArguments& arguments, CommandStreams& streams) {
  if (!arguments.empty() && (arguments[0] == "--help" || arguments[0] == "-h")) {
    streams.out << "Usage: meshprobe version\n\nPrints meshprobe's version and the agent image it "
                   "uses by default.\n";
    return kExitOk;
  }
  if (!arguments.empty()) {
    streams.err << "meshprobe version: takes no arguments, got \"" << arguments[0] << "\"\n";
    return kExitUsage;
  }
  streams.out << "meshprobe " << version() << "\nagent image " << default_agent_image() << "\n";
  return kExitOk;
}

}  // namespace meshprobe::cmd
