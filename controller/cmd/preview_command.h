// `meshprobe preview` (also `kubectl meshprobe preview`): its command line, and running it
// against a KubernetesApi, apart from the real connection, so that unit/cmd tests it with
// GoogleMock at that seam (docs/preview.md).
#pragma once

#include <optional>
#include <string>

#include "cmd/command.h"
#include "kube/api.h"
#include "kube/config.h"
#include "operator/controller_config.h"
#include "probe/result.h"

namespace meshprobe::cmd {

enum class PreviewFormat { kTable, kJson, kYaml };

struct PreviewCommandLine {
  std::string kubeconfig;
  std::string context;
  std::string namespace_name;  // -n; "" = every namespace
  std::string label_selector;  // -l
  std::string policy_file;     // --policy FILE ("-": standard input)
  std::optional<bool> toggle;  // --toggle on|off
  PreviewFormat format = PreviewFormat::kTable;
  // The controller's settings: --config FILE, else the installed ConfigMap
  // meshprobe-controller-config of --controller-namespace.
  std::string config_file;
  std::string controller_namespace = "meshprobe-system";
  bool help = false;
  std::string help_text;
};

struct PreviewCommandError {
  std::string message;
  int exit_status = kExitUsage;
};

Result<PreviewCommandLine, PreviewCommandError> parse_preview_command_line(
    const CommandArguments& arguments);

// Everything after the connection: reads the controller's settings and the --policy file,
// previews, prints. Returns the exit status; errors are one line on streams.err.
int run_preview_against(kube::KubernetesApi& api, const PreviewCommandLine& command_line,
                        CommandStreams& streams);

}  // namespace meshprobe::cmd
