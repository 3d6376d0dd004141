#include "cmd/build_info.h"

namespace meshprobe::cmd {

std::string_view version() { return MESHPROBE_VERSION; }

std::string default_agent_image() {
  return std::string(MESHPROBE_AGENT_IMAGE) + ":" + MESHPROBE_VERSION;
}

}  // namespace meshprobe::cmd
