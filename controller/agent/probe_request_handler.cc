#include "agent/probe_request_handler.h"

namespace meshprobe::agent {
namespace {

std::string_view kind_of(const probe::ProbeAction& action) {
  return std::visit(
      [](const auto& a) -> std::string_view {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, probe::HttpGetAction>)
          return "httpGet";
        else if constexpr (std::is_same_v<T, probe::TcpSocketAction>)
          return "tcpSocket";
        else
          return "grpc";
      },
      action);
}

int port_of(const probe::ProbeAction& action) {
  return std::visit([](const auto& a) { return a.port; }, action);
}

}  // namespace

void ProbeRequestHandler::handle(const IncomingRequest& request, ReplyCallback reply) {
  if (request.method != "GET") {
    metrics_.record_rejection(Rejection::kMethodNotAllowed);
    reply(Reply{405, {}, {}});
    return;
  }
  const std::string path = request.target.substr(0, request.target.find('?'));
  if (path == kReadyPath) {
    reply(Reply{200, "text/plain; charset=utf-8", "ready\n"});
    return;
  }
  if (path == kMetricsPath) {
    reply(Reply{200, "text/plain; version=0.0.4; charset=utf-8", metrics_.render()});
    return;
  }
  auto it = probers_.find(path);
  if (it == probers_.end()) {
    metrics_.record_rejection(Rejection::kNotFound);
    reply(Reply{404, {}, {}});
    return;
  }
  start_probe(it->first, it->second, request.user_agent, std::move(reply));
}

void ProbeRequestHandler::start_probe(const std::string& path, const probe::AppProber& prober,
                                      const std::string& user_agent, ReplyCallback reply) {
  const auto started = clock_.now();
  // `path` and `prober` live in probers_, which outlives every probe.
  auto done = [this, &path, &prober, started, reply = std::move(reply)](ProbeOutcome outcome) {
    const auto duration = clock_.now() - started;
    metrics_.record_probe(path, outcome, duration);
    if (!outcome.succeeded()) {
      logger_.log(LogLevel::kWarn, "probe failed",
                  {{"path", path},
                   {"action", std::string(kind_of(prober.action))},
                   {"port", std::int64_t{port_of(prober.action)}},
                   {"reason", std::string(reason_name(outcome.reason))},
                   {"detail", outcome.detail},
                   {"status", std::int64_t{outcome.status}},
                   {"duration_ms", std::chrono::duration<double, std::milli>(duration).count()}});
    }
    reply(Reply{outcome.status, {}, {}});
  };
  const std::chrono::seconds timeout(prober.timeout_seconds);
  std::visit(
      [&](const auto& action) {
        using T = std::decay_t<decltype(action)>;
        if constexpr (std::is_same_v<T, probe::HttpGetAction>) {
          probe_with_.http.probe(action, timeout, user_agent, std::move(done));
        } else if constexpr (std::is_same_v<T, probe::TcpSocketAction>) {
          probe_with_.tcp.probe(action, timeout, std::move(done));
        } else {
          probe_with_.grpc.probe(action, timeout, user_agent, std::move(done));
        }
      },
      prober.action);
}

}  // namespace meshprobe::agent
