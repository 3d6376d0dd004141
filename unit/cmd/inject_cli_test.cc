// The built `meshprobe` binary, run as a user runs it: exit status, standard output and
// standard error. Input is the seed's liveness-http Deployment (testdata/).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cmd/yaml_documents.h"

namespace meshprobe::cmd {
namespace {

using nlohmann::json;

struct Run {
  int status = -1;
  std::string out;
  std::string err;
};

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string write_temporary(const std::string& name, const std::string& text) {
  const std::string path =
      ::testing::TempDir() + "meshprobe-cli-" + std::to_string(::getpid()) + "-" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string quoted(const std::string& text) { return "'" + text + "'"; }

// Runs `meshprobe ARGUMENTS` with `standard_input` (a file) as its standard input.
Run meshprobe(const std::string& arguments, const std::string& standard_input = "/dev/null") {
  const std::string out = write_temporary("stdout", "");
  const std::string err = write_temporary("stderr", "");
  const std::string command = quoted(MESHPROBE_BINARY) + " " + arguments + " <" +
                              quoted(standard_input) + " >" + quoted(out) + " 2>" + quoted(err);
  const int raw = std::system(command.c_str());
  Run run;
  run.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  run.out = read_file(out);
  run.err = read_file(err);
  return run;
}

const std::string kSeed = std::string(MESHPROBE_TESTDATA) + "/liveness-http.yaml";
const std::string kSeedRewritable = std::string(MESHPROBE_TESTDATA) + "/liveness-http-rewrite.yaml";

TEST(MeshprobeCli, SeedDeploymentWithRewriteOffComesThroughUnchanged) {
  auto run = meshprobe("inject -f " + quoted(kSeed));
  EXPECT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out, read_file(kSeed));
  EXPECT_EQ(run.err,
            "meshprobe inject: warning: document 1 (Deployment liveness-http, line 1): not "
            "rewritten: rewriting is off "
            "by the pod template's annotation sidecar.istio.io/rewriteAppHTTPProbers=\"false\"\n");
}

TEST(MeshprobeCli, SeedDeploymentIsRewrittenAndRestoreGivesTheInputBack) {
  auto rewritten = meshprobe("inject -f " + quoted(kSeedRewritable));
  ASSERT_EQ(rewritten.status, 0) << rewritten.err;
  EXPECT_EQ(rewritten.err, "");
  auto docs = yaml_documents(rewritten.out);
  ASSERT_EQ(docs.size(), 1u);
  const json& pod_spec = docs[0]["spec"]["template"]["spec"];
  EXPECT_EQ(
      pod_spec["containers"][0]["livenessProbe"],
      json::parse(
          R"({"httpGet":{"path":"/app-health/liveness-http/livez","port":15120,"scheme":"HTTP"},
                            "initialDelaySeconds":5,"periodSeconds":5,"timeoutSeconds":1,"successThreshold":1,
                            "failureThreshold":3})"));
  EXPECT_EQ(pod_spec["initContainers"][0]["name"], "meshprobe-agent");
  EXPECT_EQ(
      pod_spec["initContainers"][0]["env"][0]["value"],
      R"({"/app-health/liveness-http/livez":{"httpGet":{"path":"/foo","port":8001,"scheme":"HTTP"},"timeoutSeconds":1}})");

  // --restore, reading standard input this time.
  const std::string rewritten_file = write_temporary("rewritten.yaml", rewritten.out);
  auto restored = meshprobe("inject --restore -f -", rewritten_file);
  ASSERT_EQ(restored.status, 0) << restored.err;
  EXPECT_EQ(yaml_documents(restored.out), yaml_documents(read_file(kSeedRewritable)));
  // Rewriting the rewritten output again changes nothing.
  EXPECT_EQ(meshprobe("inject -f " + quoted(rewritten_file)).out, rewritten.out);
}

TEST(MeshprobeCli, BadInputFailsWithOneMessageAndNothingOnStandardOutput) {
  const std::string seed = read_file(kSeedRewritable);
  std::string two_actions = seed;
  two_actions.replace(two_actions.find("          initialDelaySeconds"), 0,
                      "          exec: {command: [\"true\"]}\n");
  std::string out_of_range = seed;
  out_of_range.replace(out_of_range.find("port: 8001\n          initial"), 10, "port: 80010");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {seed + "---\nkind: [unclosed\n",
       "meshprobe inject: error: document 2: line 33, column 1: end of sequence flow not found\n"},
      {seed + "---\n- a list\n",
       "meshprobe inject: error: document 2 (line 32): must be a mapping (a Kubernetes object), "
       "got a list\n"},
      {two_actions,
       "meshprobe inject: error: document 1 (Deployment liveness-http, line 1): "
       "spec.template.spec.containers[0].livenessProbe: has more than one action: exec and "
       "httpGet\n"},
      {out_of_range,
       "meshprobe inject: error: document 1 (Deployment liveness-http, line 1): "
       "spec.template.spec.containers[0].livenessProbe: httpGet.port must be in 1..65535, got "
       "80010\n"},
  };
  for (const auto& [input, error] : cases) {
    auto run = meshprobe("inject -f " + quoted(write_temporary("bad.yaml", input)));
    EXPECT_EQ(run.status, 1);
    EXPECT_EQ(run.err, error);
    EXPECT_EQ(run.out, "");
  }
  auto missing = meshprobe("inject -f /nonexistent/app.yaml");
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(
      missing.err,
      "meshprobe inject: error: cannot read /nonexistent/app.yaml: No such file or directory\n");
  EXPECT_EQ(missing.out, "");
}

TEST(MeshprobeCli, CommandLineMistakesExitTwo) {
  for (const char* arguments :
       {"", "frobnicate", "inject", "inject -f", "inject -f x --agent-port 15020",
        "inject -f x --agent-port 0", "inject -f x --bogus", "inject -f x --agent-port abc",
        "version extra"}) {
    auto run = meshprobe(arguments);
    EXPECT_EQ(run.status, 2) << arguments;
    EXPECT_EQ(run.out, "") << arguments;
    EXPECT_NE(run.err, "") << arguments;
  }
  EXPECT_EQ(
      meshprobe("inject -f x --agent-port 15020").err,
      "meshprobe inject: --agent-port 15020 is in Istio's reserved range 15000-15099\n"
      "Usage: meshprobe inject -f FILE|- [--restore] [--agent-image IMAGE] [--agent-port PORT]\n"
      "Run 'meshprobe inject --help' for details.\n");
}

TEST(MeshprobeCli, HelpDocumentsEverything) {
  auto top = meshprobe("--help");
  EXPECT_EQ(top.status, 0);
  for (const char* word : {"inject", "version", "meshprobe COMMAND --help"}) {
    EXPECT_NE(top.out.find(word), std::string::npos) << word;
  }
  auto inject = meshprobe("inject --help");
  EXPECT_EQ(inject.status, 0);
  for (const char* word : {"-f [ --filename ] FILE", "--restore", "--agent-image", "--agent-port",
                           "15120", "rewriteAppHTTPProbers", "Exit status", "CronJob"}) {
    EXPECT_NE(inject.out.find(word), std::string::npos) << word;
  }
  auto version = meshprobe("version");
  EXPECT_EQ(version.status, 0);
  EXPECT_EQ(version.out.rfind("meshprobe ", 0), 0u);
  EXPECT_NE(version.out.find("meshprobe-agent"), std::string::npos);
}

}  // namespace
}  // namespace meshprobe::cmd
