#include "agent/run_agent.h"

#include <csignal>
#include <cstdlib>
#include <iostream>

#include "agent/real_clock.h"

namespace meshprobe::agent {
namespace {

std::optional<std::string> read_environment(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (!value) return std::nullopt;
  return std::string(value);
}

}  // namespace

int run_agent(int argc, const char* const argv[], const ProberFactory& make_probers) {
  auto command_line = parse_command_line(argc, argv, read_environment);
  if (!command_line) {
    std::cerr << "meshprobe-agent: " << command_line.error().message << "\n";
    return 2;
  }
  if (!command_line->config) {
    std::cout << command_line->usage;
    return 0;
  }
  const AgentConfig& config = *command_line->config;
  asio::io_context io(1);  // one thread runs everything
  RealClock clock(io.get_executor());
  StreamLogger logger(std::cerr, config.log_format, config.log_level, clock);
  Agent agent(io.get_executor(), config,
              make_probers(io.get_executor(), clock, config.pod_ip, logger), logger, clock);
  auto port = agent.start();
  if (!port) {
    logger.log(LogLevel::kError, "cannot start", {{"error", port.error().message}});
    return 1;
  }
  logger.log(LogLevel::kInfo, "serving",
             {{"port", std::int64_t{*port}},
              {"probes", static_cast<std::int64_t>(config.probers.size())},
              {"pod_ip", config.pod_ip}});

  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const error_code& error, int signal) {
    if (error) return;
    logger.log(LogLevel::kInfo, "stopping", {{"signal", std::int64_t{signal}}});
    agent.stop();
  });
  io.run();  // returns once the probes in flight have finished
  return 0;
}

}  // namespace meshprobe::agent
