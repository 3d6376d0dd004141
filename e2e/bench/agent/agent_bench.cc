// meshprobe-agent-bench: probe latency through the agent against asking the application
// directly, probes per second, and the agent's resident memory and threads, with gRPC health
// checks made both ways (nghttp2, as shipped, and gRPC's C++ library). One run, side by side,
// printed as tables with ratios. Not a test: run it by hand (docs/benchmarks.md "The agent"):
//   cmake --build build --target agent-bench && build/e2e/bench/agent/meshprobe-agent-bench
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "integration/test_servers.h"

namespace meshprobe::agent::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::microseconds;
using std::chrono::milliseconds;

struct Options {
  int requests = 2000;
  int grpc_requests = 500;
  int concurrency = 8;
  double seconds = 3;
};

struct Memory {
  long rss_kb = 0;
  long anonymous_kb = 0;
  long threads = 0;
};

Memory memory_of(int pid) {
  Memory memory;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  long value = 0;
  while (status >> key) {
    if (key == "VmRSS:" && status >> value)
      memory.rss_kb = value;
    else if (key == "RssAnon:" && status >> value)
      memory.anonymous_kb = value;
    else if (key == "Threads:" && status >> value)
      memory.threads = value;
  }
  return memory;
}

// Samples a process' memory and threads every few milliseconds and keeps the peaks: gRPC's
// threads come and go within one probe.
class PeakSampler {
 public:
  explicit PeakSampler(int pid)
      : thread_([this, pid] {
          while (!stop_) {
            const Memory now = memory_of(pid);
            {
              std::lock_guard lock(mutex_);
              peak_.rss_kb = std::max(peak_.rss_kb, now.rss_kb);
              peak_.anonymous_kb = std::max(peak_.anonymous_kb, now.anonymous_kb);
              peak_.threads = std::max(peak_.threads, now.threads);
            }
            std::this_thread::sleep_for(milliseconds(2));
          }
        }) {}
  ~PeakSampler() { finish(); }
  Memory finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mutex_);
    return peak_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  Memory peak_;
  std::thread thread_;
};

struct Latency {
  double p50_us = 0, p99_us = 0;
};

Latency summarize(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) { return samples[static_cast<std::size_t>(q * (samples.size() - 1))]; };
  return {at(0.5), at(0.99)};
}

// `ask` once per sample, sequentially, each on a new connection.
template <typename Ask>
Latency measure(int count, Ask ask) {
  std::vector<double> samples;
  samples.reserve(count);
  for (int i = 0; i < count; ++i) {
    const auto start = Clock::now();
    ask();
    samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  return summarize(std::move(samples));
}

// Requests per second from `concurrency` clients for `seconds`.
template <typename Ask>
double throughput(int concurrency, double seconds, Ask ask) {
  std::atomic<long> done{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  const auto start = Clock::now();
  for (int i = 0; i < concurrency; ++i) {
    clients.emplace_back([&] {
      while (!stop) {
        ask();
        ++done;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& client : clients) client.join();
  return done / std::chrono::duration<double>(Clock::now() - start).count();
}

void wait_until_ready(int port) {
  for (int i = 0; i < 200; ++i) {
    try {
      if (http_get(port, "/healthz/ready").status == 200) return;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(milliseconds(25));
  }
  throw std::runtime_error("the agent did not become ready on port " + std::to_string(port));
}

std::unique_ptr<ChildProcess> start_agent(const std::string& binary, int port,
                                          const std::string& probers) {
  auto agent = std::make_unique<ChildProcess>(
      std::vector<std::string>{binary, "--port", std::to_string(port), "--address", "127.0.0.1",
                               "--log-level", "error"},
      std::vector<std::string>{"ISTIO_KUBE_APP_PROBERS=" + probers});
  if (!agent->started()) throw std::runtime_error("cannot start " + binary);
  wait_until_ready(port);
  return agent;
}

void tcp_connect(int port) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
}

std::string fixed(double value, int decimals = 0) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::string ratio(double a, double b) { return b > 0 ? fixed(a / b, 2) + "x" : "-"; }

void row(const std::vector<std::string>& cells, const std::vector<int>& widths) {
  std::cout << "|";
  for (std::size_t i = 0; i < cells.size(); ++i) {
    std::cout << " " << cells[i]
              << std::string(std::max<int>(0, widths[i] - static_cast<int>(cells[i].size())), ' ')
              << " |";
  }
  std::cout << "\n";
}

void table(const std::vector<std::string>& header,
           const std::vector<std::vector<std::string>>& rows) {
  std::vector<int> widths(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) widths[i] = header[i].size();
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) widths[i] = std::max<int>(widths[i], r[i].size());
  }
  row(header, widths);
  std::vector<std::string> rule;
  for (int w : widths) rule.push_back(std::string(w, '-'));
  row(rule, widths);
  for (const auto& r : rows) row(r, widths);
  std::cout << "\n";
}

int run(const Options& options) {
  TestHttpApp app;
  app.route("/healthz", {200, {}, "ok"});
  TestTcpListener tcp_app;
  TestGrpcHealthServer grpc_app({{"svc", true}});
  const std::string probers =
      R"({"/app-health/app/livez": {"httpGet": {"path": "/healthz", "port": )" +
      std::to_string(app.port()) + R"(}, "timeoutSeconds": 5},
    "/app-health/app/readyz": {"tcpSocket": {"port": )" +
      std::to_string(tcp_app.port()) + R"(}, "timeoutSeconds": 5},
    "/app-health/app/startupz": {"grpc": {"port": )" +
      std::to_string(grpc_app.port()) + R"(, "service": "svc"}, "timeoutSeconds": 5}})";

  std::cout << "meshprobe-agent benchmark: " << options.requests
            << " sequential probes per row (new connection each, as "
            << "the kubelet), then " << options.concurrency << " clients for " << options.seconds
            << " s; loopback, " << std::thread::hardware_concurrency() << " CPUs, one run.\n\n";

  // ---- HTTP and TCP through the agent (nghttp2 build, as shipped) ----
  const int agent_port = unused_port();
  auto agent = start_agent(MESHPROBE_AGENT_BINARY, agent_port, probers);
  std::this_thread::sleep_for(milliseconds(300));
  const Memory idle = memory_of(agent->pid());

  const auto http_direct = measure(options.requests, [&] { http_get(app.port(), "/healthz"); });
  const auto http_agent =
      measure(options.requests, [&] { http_get(agent_port, "/app-health/app/livez"); });
  const auto tcp_direct = measure(options.requests, [&] { tcp_connect(tcp_app.port()); });
  const auto tcp_agent =
      measure(options.requests, [&] { http_get(agent_port, "/app-health/app/readyz"); });

  const double direct_rate =
      throughput(options.concurrency, options.seconds, [&] { http_get(app.port(), "/healthz"); });
  PeakSampler sampler(agent->pid());
  const double agent_rate = throughput(options.concurrency, options.seconds,
                                       [&] { http_get(agent_port, "/app-health/app/livez"); });
  const Memory loaded = sampler.finish();
  const Memory after = memory_of(agent->pid());
  agent.reset();

  std::cout << "Probe latency (us), sequential:\n";
  table({"probe", "direct p50", "agent p50", "ratio", "direct p99", "agent p99", "ratio"},
        {{"HTTP GET", fixed(http_direct.p50_us), fixed(http_agent.p50_us),
          ratio(http_agent.p50_us, http_direct.p50_us), fixed(http_direct.p99_us),
          fixed(http_agent.p99_us), ratio(http_agent.p99_us, http_direct.p99_us)},
         {"TCP connect", fixed(tcp_direct.p50_us), fixed(tcp_agent.p50_us),
          ratio(tcp_agent.p50_us, tcp_direct.p50_us), fixed(tcp_direct.p99_us),
          fixed(tcp_agent.p99_us), ratio(tcp_agent.p99_us, tcp_direct.p99_us)}});
  std::cout << "HTTP probes per second, " << options.concurrency << " clients:\n";
  table({"direct", "through agent", "ratio"},
        {{fixed(direct_rate), fixed(agent_rate), ratio(agent_rate, direct_rate)}});

  // ---- gRPC health both ways ----
  struct GrpcRun {
    std::string name;
    Memory idle, peak, after;
    Latency latency;
  };
  std::vector<GrpcRun> grpc_runs;
  for (const auto& [name, binary] : std::vector<std::pair<std::string, std::string>>{
           {"nghttp2 (shipped)", MESHPROBE_AGENT_BINARY},
           {"gRPC C++ library", MESHPROBE_AGENT_GRPCPP_BINARY}}) {
    const int port = unused_port();
    auto grpc_agent = start_agent(binary, port, probers);
    std::this_thread::sleep_for(milliseconds(300));
    GrpcRun result{name, memory_of(grpc_agent->pid()), {}, {}, {}};
    PeakSampler grpc_sampler(grpc_agent->pid());
    result.latency = measure(options.grpc_requests, [&] {
      if (http_get(port, "/app-health/app/startupz").status != 200)
        throw std::runtime_error(name + ": probe failed");
    });
    result.peak = grpc_sampler.finish();
    std::this_thread::sleep_for(milliseconds(300));
    result.after = memory_of(grpc_agent->pid());
    grpc_runs.push_back(result);
  }

  std::cout << "Agent resident memory (kB) and threads:\n";
  std::vector<std::vector<std::string>> memory_rows{
      {"HTTP/TCP agent, idle", fixed(idle.rss_kb), fixed(idle.anonymous_kb), fixed(idle.threads)},
      {"HTTP/TCP agent, peak under load", fixed(loaded.rss_kb), fixed(loaded.anonymous_kb),
       fixed(loaded.threads)},
      {"HTTP/TCP agent, after load", fixed(after.rss_kb), fixed(after.anonymous_kb),
       fixed(after.threads)}};
  for (const auto& r : grpc_runs) {
    memory_rows.push_back({"gRPC via " + r.name + ", idle", fixed(r.idle.rss_kb),
                           fixed(r.idle.anonymous_kb), fixed(r.idle.threads)});
    memory_rows.push_back({"gRPC via " + r.name + ", peak while probing", fixed(r.peak.rss_kb),
                           fixed(r.peak.anonymous_kb), fixed(r.peak.threads)});
    memory_rows.push_back(
        {"gRPC via " + r.name + ", after " + std::to_string(options.grpc_requests) + " probes",
         fixed(r.after.rss_kb), fixed(r.after.anonymous_kb), fixed(r.after.threads)});
  }
  table({"agent", "RSS", "of which anonymous", "threads"}, memory_rows);

  const auto& lean = grpc_runs[0];
  const auto& full = grpc_runs[1];
  std::cout << "gRPC health check, nghttp2 against gRPC's C++ library:\n";
  table({"", "nghttp2", "gRPC C++", "ratio (gRPC C++ / nghttp2)"},
        {{"RSS after probes (kB)", fixed(lean.after.rss_kb), fixed(full.after.rss_kb),
          ratio(full.after.rss_kb, lean.after.rss_kb)},
         {"peak RSS while probing (kB)", fixed(lean.peak.rss_kb), fixed(full.peak.rss_kb),
          ratio(full.peak.rss_kb, lean.peak.rss_kb)},
         {"peak threads while probing", fixed(lean.peak.threads), fixed(full.peak.threads),
          ratio(full.peak.threads, lean.peak.threads)},
         {"probe p50 (us)", fixed(lean.latency.p50_us), fixed(full.latency.p50_us),
          ratio(full.latency.p50_us, lean.latency.p50_us)},
         {"probe p99 (us)", fixed(lean.latency.p99_us), fixed(full.latency.p99_us),
          ratio(full.latency.p99_us, lean.latency.p99_us)}});
  return 0;
}

}  // namespace
}  // namespace meshprobe::agent::testing

int main(int argc, char** argv) {
  meshprobe::agent::testing::Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--requests")
      options.requests = std::stoi(argv[i + 1]);
    else if (flag == "--grpc-requests")
      options.grpc_requests = std::stoi(argv[i + 1]);
    else if (flag == "--concurrency")
      options.concurrency = std::stoi(argv[i + 1]);
    else if (flag == "--seconds")
      options.seconds = std::stod(argv[i + 1]);
    else {
      std::cerr << "usage: meshprobe-agent-bench [--requests N] [--grpc-requests N] [--concurrency "
                   "N] [--seconds S]\n";
      return 2;
    }
  }
  try {
    return meshprobe::agent::testing::run(options);
  } catch (const std::exception& e) {
    std::cerr << "meshprobe-agent-bench: " << e.what() << "\n";
    return 1;
  }
}
