// The documents of a YAML stream as kubectl would send them, for comparing manifests by
// meaning rather than by text.
#pragma once

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cmd/yaml_json.h"

namespace meshprobe::cmd {

inline std::vector<nlohmann::json> yaml_documents(const std::string& text) {
  std::vector<nlohmann::json> out;
  for (const auto& node : YAML::LoadAll(text)) {
    auto converted = yaml_to_json(node);
    EXPECT_TRUE(converted.ok()) << (converted.ok() ? "" : converted.error().message);
    out.push_back(converted.ok() ? *converted : nlohmann::json());
  }
  return out;
}

}  // namespace meshprobe::cmd
