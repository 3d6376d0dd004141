// The subcommands of the `meshprobe` binary. Each is a function of its arguments and its
// standard streams, returning the exit status; main() only passes the real streams. To add a
// subcommand, write its run function and add one line to the table in command.cc.
#pragma once

#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace meshprobe::cmd {

// Exit statuses shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the work failed: bad input, unreachable API, ...
inline constexpr int kExitUsage = 2;    // the command line is wrong

struct CommandStreams {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

using CommandArguments = std::vector<std::string>;  // after the subcommand's name

struct Subcommand {
  std::string_view name;
  std::string_view summary;  // one line for `meshprobe --help`
  int (*run)(const CommandArguments& arguments, CommandStreams& streams);
};

std::span<const Subcommand> subcommands();

// `meshprobe ARGS...` (without argv[0]): dispatches to a subcommand, or prints the help.
int run_meshprobe(const CommandArguments& arguments, CommandStreams& streams);

// The subcommands.
int run_controller(const CommandArguments& arguments, CommandStreams& streams);
int run_inject(const CommandArguments& arguments, CommandStreams& streams);
int run_preview(const CommandArguments& arguments, CommandStreams& streams);
int run_version(const CommandArguments& arguments, CommandStreams& streams);

}  // namespace meshprobe::cmd
