// Kubernetes label selectors (metav1.LabelSelector): matchLabels and matchExpressions with
// In, NotIn, Exists and DoesNotExist, all of which must hold.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "probe/result.h"

namespace meshprobe::probe {

using Labels = std::map<std::string, std::string>;

// metadata.labels of an object (or of a pod template); entries whose value is not a string
// are skipped, absent or malformed labels give an empty map.
Labels labels_of(const nlohmann::json& metadata);

struct LabelRequirement {
  enum class Operator { kIn, kNotIn, kExists, kDoesNotExist };
  std::string key;
  Operator op = Operator::kExists;
  std::vector<std::string> values;
  bool operator==(const LabelRequirement&) const = default;
};

struct LabelSelector {
  Labels match_labels;
  std::vector<LabelRequirement> match_expressions;

  // An empty selector matches everything, as in Kubernetes.
  bool empty() const { return match_labels.empty() && match_expressions.empty(); }
  bool matches(const Labels& labels) const;
  bool operator==(const LabelSelector&) const = default;
};

// Parses a metav1.LabelSelector. `field` names it in error messages ("spec.selector").
Result<LabelSelector> parse_label_selector(const nlohmann::json& selector,
                                           const std::string& field);

}  // namespace meshprobe::probe
