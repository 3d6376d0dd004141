// YAML <-> JSON for Kubernetes manifests, typed the way kubectl reads YAML (sigs.k8s.io/yaml,
// YAML 1.1 rules): a plain scalar is null (~, null, empty), a boolean (true/false/yes/no/on/off
// and their capitalised forms, y/n), an integer (decimal, 0x, 0o, 0b, leading-0 octal,
// underscores allowed), a float, or else a string; a quoted or block scalar is always a
// string. Writing does the reverse: a string that would read back as anything else is
// quoted, so "true", "8001" and version "1.10" stay strings and 8001 stays an integer.
#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>

#include "probe/result.h"

namespace meshprobe::cmd {

// Errors name the path of the offending node ("spec.template.metadata.labels: duplicate key
// \"app\""). Merge keys (<<) and tags other than the core schema's are refused.
Result<nlohmann::json> yaml_to_json(const YAML::Node& node);

// Block-style YAML ending in a newline. Mapping keys come in the order `order_hint` (the YAML
// the value came from) has them; keys it lacks follow in sorted order.
std::string json_to_yaml(const nlohmann::json& value, const YAML::Node& order_hint = YAML::Node());

// How kubectl types a plain (unquoted) scalar.
nlohmann::json resolve_plain_scalar(const std::string& text);

}  // namespace meshprobe::cmd
