// meshprobe-agent: the sidecar that answers the kubelet's rewritten probes (DESIGN.md "Agent
// behaviour"), with the network probers of controller/agent.
#include "agent/run_agent.h"

int main(int argc, char** argv) {
  return meshprobe::agent::run_agent(argc, argv, meshprobe::agent::make_network_probers);
}
