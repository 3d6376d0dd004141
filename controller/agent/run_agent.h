// The body of meshprobe-agent's main(): configuration, one event loop with the real clock and
// logger, the probers from `make_probers`, until SIGTERM or SIGINT. Shared with the
// benchmark's variant that asks gRPC health with gRPC's own library (e2e/bench/).
#pragma once

#include <functional>

#include "agent/agent.h"

namespace meshprobe::agent {

using ProberFactory = std::function<ProberSet(const asio::any_io_executor& executor, Clock& clock,
                                              const std::string& pod_ip, Logger& logger)>;

// Returns the process exit status: 0 after a clean stop, 1 when the agent cannot start, 2
// for a bad configuration (one line on stderr naming the problem).
int run_agent(int argc, const char* const argv[], const ProberFactory& make_probers);

}  // namespace meshprobe::agent
