// The agent's default port: outside Istio's reserved 15000-15099 (DESIGN.md "Rewrite").
// Shared by the engine, which points rewritten probes at it, and the agent, which listens on it.
#pragma once

namespace meshprobe::probe {

inline constexpr int kDefaultAgentPort = 15120;

}  // namespace meshprobe::probe
