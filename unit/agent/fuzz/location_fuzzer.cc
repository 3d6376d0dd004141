// libFuzzer: any Location an application sends resolves to a URL the agent can ask, or to
// nothing; a redirect never leaves the first host. Build with -DMESHPROBE_FUZZ=ON (clang).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/http_probe_request.h"

using namespace meshprobe::agent;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view location(reinterpret_cast<const char*>(data), size);
  HttpProbeState state;
  state.url = ProbeUrl{"http", "127.0.0.1", 8080, "/a/b?c"};
  state.requests_made = 1;
  if (auto url = resolve_location(state.url, location)) {
    if (url->host.empty() || url->target.empty() || url->target.front() != '/') std::abort();
    if (url->port < 1 || url->port > 65535) std::abort();
    for (char c : url->target) {
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) std::abort();
    }
  }
  const auto decision = decide_redirect(state, "127.0.0.1", 302, location);
  if (decision.kind == RedirectDecision::Kind::kFollow && decision.next.url.host != "127.0.0.1")
    std::abort();
  return 0;
}
