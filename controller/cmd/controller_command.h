// `meshprobe controller`: its command line and configuration, apart from running it, so that
// unit/cmd can test how the file, the flags and the environment combine.
#pragma once

#include <string>

#include "cmd/command.h"
#include "kube/config.h"
#include "operator/controller_config.h"
#include "probe/result.h"

namespace meshprobe::cmd {

struct ControllerCommandLine {
  controller::ControllerConfig
      config;  // defaults < --config FILE < flags < environment for the lease namespace
  std::string kubeconfig;
  std::string context;
  bool help = false;
  std::string help_text;
};

struct CommandLineError {
  std::string message;
  int exit_status = kExitUsage;  // kExitFailure when the config file is unreadable or invalid
};

// Parses the arguments after `controller`; reads --config FILE. The leader election namespace
// comes from --leader-election-namespace, else $POD_NAMESPACE, else meshprobe-system; the
// agent image from the config, else the build's default.
Result<ControllerCommandLine, CommandLineError> parse_controller_command_line(
    const CommandArguments& arguments, const kube::EnvironmentLookup& environment);

}  // namespace meshprobe::cmd
