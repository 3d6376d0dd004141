// The seed's TCP problem, reproduced in network namespaces with iptables as Istio sets them
// up: every inbound TCP connection to the pod is redirected to a catch-all listener (the
// sidecar's), so a direct TCP check of a stopped application passes. The agent, running as
// uid 1337 and excluded from the redirect by an owner match, reports the application down.
// Needs root, ip, iptables and setpriv; where the machine cannot make namespaces the test
// skips and says exactly why.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <future>

#include "integration/test_servers.h"
#include "probe/names.h"

namespace meshprobe::agent::testing {
namespace {

using std::chrono::milliseconds;

constexpr const char* kNodeAddress = "10.213.0.1";
constexpr const char* kPodAddress = "10.213.0.2";
constexpr int kAgentPort = 15120;
constexpr int kCatchAllPort = 15006;  // Envoy's inbound capture port
constexpr int kAppPort = 8080;
constexpr int kMeshUid = probe::kAgentUserId;  // Istio's proxy uid, which the agent runs as

// Runs `work` on a thread that has entered the named network namespace; sockets made there
// stay in that namespace after the thread ends.
template <typename Work>
auto in_namespace(const std::string& name, Work work) {
  return std::async(std::launch::async,
                    [name, work]() {
                      const int fd = open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
                      if (fd < 0 || setns(fd, CLONE_NEWNET) != 0)
                        throw std::runtime_error("cannot enter namespace " + name);
                      close(fd);
                      return work();
                    })
      .get();
}

// A listener that only exists for its backlog: the kernel completes the handshakes.
std::unique_ptr<TestTcpListener> listener_in(const std::string& name_space, int port);

class MeshNamespaces {
 public:
  MeshNamespaces()
      : suffix_(std::to_string(getpid())), node_("mp-node-" + suffix_), pod_("mp-pod-" + suffix_) {}
  ~MeshNamespaces() {
    agent_.reset();
    run_command("ip netns del " + pod_);
    run_command("ip netns del " + node_);
  }

  // Empty on success, else why this machine cannot do it.
  std::string set_up() {
    if (geteuid() != 0)
      return "creating network namespaces needs root; running as uid " + std::to_string(geteuid());
    for (const char* tool : {"ip", "iptables", "setpriv"}) {
      if (run_command(std::string("command -v ") + tool).exit_code != 0)
        return std::string(tool) + " is not installed";
    }
    const std::string veth_node = "mpn" + suffix_, veth_pod = "mpp" + suffix_;
    const std::vector<std::string> steps = {
        "ip netns add " + node_,
        "ip netns add " + pod_,
        "ip -n " + node_ + " link add " + veth_node + " type veth peer name " + veth_pod +
            " netns " + pod_,
        "ip -n " + node_ + " addr add " + kNodeAddress + "/30 dev " + veth_node,
        "ip -n " + pod_ + " addr add " + kPodAddress + "/30 dev " + veth_pod,
        "ip -n " + node_ + " link set " + veth_node + " up",
        "ip -n " + pod_ + " link set " + veth_pod + " up",
        "ip -n " + node_ + " link set lo up",
        "ip -n " + pod_ + " link set lo up",
        // Istio's inbound capture: everything but excluded ports goes to the sidecar.
        "ip netns exec " + pod_ + " iptables -t nat -A PREROUTING -p tcp --dport " +
            std::to_string(kAgentPort) + " -j RETURN",
        "ip netns exec " + pod_ + " iptables -t nat -A PREROUTING -p tcp -j REDIRECT --to-ports " +
            std::to_string(kCatchAllPort),
        // And its outbound capture, which the sidecar's own uid escapes.
        "ip netns exec " + pod_ + " iptables -t nat -A OUTPUT -p tcp -m owner --uid-owner " +
            std::to_string(kMeshUid) + " -j RETURN",
        "ip netns exec " + pod_ + " iptables -t nat -A OUTPUT -p tcp -j REDIRECT --to-ports " +
            std::to_string(kCatchAllPort),
    };
    for (const auto& step : steps) {
      const auto result = run_command(step);
      if (result.exit_code != 0) return "`" + step + "` failed: " + result.output;
    }
    return "";
  }

  // Istio's capture of its own uid's connections to the pod's address over loopback (the
  // rules istio-iptables writes at the top of ISTIO_OUTPUT): into the sidecar, unless they come
  // from 127.0.0.6. Empty on success, else what failed.
  std::string add_loopback_capture() {
    const std::string uid = std::to_string(kMeshUid), catch_all = std::to_string(kCatchAllPort);
    for (const std::string& step :
         {"ip netns exec " + pod_ + " iptables -t nat -I OUTPUT 1 -o lo -s 127.0.0.6/32 -j RETURN",
          "ip netns exec " + pod_ +
              " iptables -t nat -I OUTPUT 2 -o lo ! -d 127.0.0.1/32 -p tcp -m owner --uid-owner " +
              uid + " -j REDIRECT --to-ports " + catch_all}) {
      const auto result = run_command(step);
      if (result.exit_code != 0) return "`" + step + "` failed: " + result.output;
    }
    return "";
  }

  // The agent as it runs in the pod: uid 1337, POD_IP, the original probe in
  // ISTIO_KUBE_APP_PROBERS.
  bool start_agent(const std::string& probers) {
    const std::string port = std::to_string(kAgentPort), uid = std::to_string(kMeshUid);
    std::vector<std::string> environment = {"ISTIO_KUBE_APP_PROBERS=" + probers,
                                            std::string("POD_IP=") + kPodAddress,
                                            "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    for (auto& entry : sanitizer_environment()) environment.push_back(std::move(entry));
    agent_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"ip", "netns", "exec", pod_, "setpriv", "--reuid=" + uid,
                                 "--regid=" + uid, "--clear-groups", MESHPROBE_AGENT_BINARY,
                                 "--port", port, "--log-format", "text"},
        std::move(environment));
    return agent_->started();
  }

  const std::string& node() const { return node_; }
  const std::string& pod() const { return pod_; }

 private:
  std::string suffix_, node_, pod_;
  std::unique_ptr<ChildProcess> agent_;
};

std::unique_ptr<TestTcpListener> listener_in(const std::string& name_space, int port) {
  return in_namespace(name_space,
                      [port] { return std::make_unique<TestTcpListener>("0.0.0.0", port); });
}

bool connects(const std::string& address, int port) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  error_code error;
  socket.connect({asio::ip::make_address(address), static_cast<unsigned short>(port)}, error);
  return !error;
}

// Waits up to 5 s for the agent to listen on the pod's address, as seen from the node.
bool agent_listening(const MeshNamespaces& namespaces) {
  for (int i = 0; i < 100; ++i) {
    if (in_namespace(namespaces.node(), [] { return connects(kPodAddress, kAgentPort); }))
      return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return false;
}

// What the agent answers the kubelet (on the node) for the liveness probe.
int agent_says(const MeshNamespaces& namespaces) {
  return in_namespace(namespaces.node(), [] {
    return http_get(kAgentPort, "/app-health/app/livez", {}, kPodAddress).status;
  });
}

TEST(AgentInMeshNamespace, SeesAStoppedApplicationThatTrafficRedirectionHides) {
  MeshNamespaces namespaces;
  if (const std::string why = namespaces.set_up(); !why.empty())
    GTEST_SKIP() << "cannot build the mesh namespaces: " << why;

  auto catch_all =
      listener_in(namespaces.pod(), kCatchAllPort);  // the sidecar, accepting everything
  ASSERT_TRUE(namespaces.start_agent(
      R"({"/app-health/app/livez": {"tcpSocket": {"port": 8080}, "timeoutSeconds": 1}})"));
  ASSERT_TRUE(agent_listening(namespaces))
      << "the agent did not start listening in the pod namespace";

  // The kubelet's own TCP check of the stopped application: redirected, so it passes.
  EXPECT_TRUE(in_namespace(namespaces.node(), [] { return connects(kPodAddress, kAppPort); }))
      << "the direct check should be fooled by the redirect: the seed's problem";
  // The same check from inside the pod as any uid but 1337 is captured too.
  EXPECT_TRUE(in_namespace(namespaces.pod(), [] { return connects(kPodAddress, kAppPort); }));

  // Through the agent: the application is down.
  EXPECT_EQ(agent_says(namespaces), 500);

  // The application starts: now the agent says so.
  auto app = listener_in(namespaces.pod(), kAppPort);
  EXPECT_EQ(agent_says(namespaces), 200);
}

// Under Istio's loopback capture a connection of uid 1337 to POD_IP reaches the sidecar, which
// accepts everything; the agent binds 127.0.0.6 for it, as Istio's own agent does, and so
// still sees the stopped application (e2e/README.md "The test images").
TEST(AgentInMeshNamespace, ReachesTheApplicationThroughIstiosLoopbackCapture) {
  MeshNamespaces namespaces;
  if (const std::string why = namespaces.set_up(); !why.empty())
    GTEST_SKIP() << "cannot build the mesh namespaces: " << why;
  ASSERT_EQ(namespaces.add_loopback_capture(), "");

  auto catch_all = listener_in(namespaces.pod(), kCatchAllPort);
  ASSERT_TRUE(namespaces.start_agent(
      R"({"/app-health/app/livez": {"tcpSocket": {"port": 8080}, "timeoutSeconds": 1}})"));
  ASSERT_TRUE(agent_listening(namespaces))
      << "the agent did not start listening in the pod namespace";
  // The capture is real: uid 1337 from any other source reaches the catch-all.
  const std::string uid = std::to_string(kMeshUid);
  EXPECT_EQ(run_command("ip netns exec " + namespaces.pod() + " setpriv --reuid=" + uid +
                        " --regid=" + uid + " --clear-groups bash -c 'exec 3<>/dev/tcp/" +
                        kPodAddress + "/" + std::to_string(kAppPort) + "'")
                .exit_code,
            0)
      << "uid 1337's connection to the stopped application should be captured";
  // Through the agent, from 127.0.0.6: the application is down, then up.
  EXPECT_EQ(agent_says(namespaces), 500);
  auto app = listener_in(namespaces.pod(), kAppPort);
  EXPECT_EQ(agent_says(namespaces), 200);
}

}  // namespace
}  // namespace meshprobe::agent::testing
