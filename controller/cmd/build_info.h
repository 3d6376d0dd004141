// What this build is: its version and the default agent image, from deploy/images.env (the
// one place they are set; CMake compiles them into build_info.cc).
#pragma once

#include <string>
#include <string_view>

namespace meshprobe::cmd {

std::string_view version();
std::string default_agent_image();  // "<MESHPROBE_AGENT_IMAGE>:<MESHPROBE_VERSION>"

}  // namespace meshprobe::cmd
