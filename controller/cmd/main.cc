// The `meshprobe` binary: wires the real standard streams to the subcommands.
#include <iostream>

#include "cmd/command.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  meshprobe::cmd::CommandStreams streams{std::cin, std::cout, std::cerr};
  const int status = meshprobe::cmd::run_meshprobe(
      meshprobe::cmd::CommandArguments(argv + 1, argv + argc), streams);
  std::cout.flush();
  return std::cout.good() ? status : meshprobe::cmd::kExitFailure;
}
