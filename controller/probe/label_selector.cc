#include "probe/label_selector.h"

#include <algorithm>

namespace meshprobe::probe {
namespace {

using nlohmann::json;
using Operator = LabelRequirement::Operator;

Result<std::vector<std::string>> string_list(const json& value, const std::string& field) {
  if (!value.is_array()) return Error{field + ": must be a list of strings"};
  std::vector<std::string> out;
  for (const auto& item : value) {
    if (!item.is_string()) return Error{field + ": must be a list of strings, got " + item.dump()};
    out.push_back(item.get<std::string>());
  }
  return out;
}

Result<LabelRequirement> parse_requirement(const json& expression, const std::string& field) {
  if (!expression.is_object()) return Error{field + ": must be an object"};
  LabelRequirement requirement;
  auto key = expression.find("key");
  if (key == expression.end() || !key->is_string() || key->get<std::string>().empty()) {
    return Error{field + ".key: must be a non-empty string"};
  }
  requirement.key = key->get<std::string>();
  auto op = expression.find("operator");
  const std::string op_name =
      op != expression.end() && op->is_string() ? op->get<std::string>() : "";
  if (op_name == "In")
    requirement.op = Operator::kIn;
  else if (op_name == "NotIn")
    requirement.op = Operator::kNotIn;
  else if (op_name == "Exists")
    requirement.op = Operator::kExists;
  else if (op_name == "DoesNotExist")
    requirement.op = Operator::kDoesNotExist;
  else
    return Error{field + ".operator: must be In, NotIn, Exists or DoesNotExist, got " +
                 (op == expression.end() ? std::string("nothing") : op->dump())};
  if (auto values = expression.find("values"); values != expression.end() && !values->is_null()) {
    auto list = string_list(*values, field + ".values");
    if (!list) return list.error();
    requirement.values = std::move(list).value();
  }
  const bool needs_values = requirement.op == Operator::kIn || requirement.op == Operator::kNotIn;
  if (needs_values && requirement.values.empty()) {
    return Error{field + ".values: must not be empty for operator " + op_name};
  }
  if (!needs_values && !requirement.values.empty()) {
    return Error{field + ".values: must be empty for operator " + op_name};
  }
  return requirement;
}

}  // namespace

Labels labels_of(const json& metadata) {
  Labels labels;
  if (!metadata.is_object()) return labels;
  auto it = metadata.find("labels");
  if (it == metadata.end() || !it->is_object()) return labels;
  for (const auto& [key, value] : it->items()) {
    if (value.is_string()) labels.emplace(key, value.get<std::string>());
  }
  return labels;
}

bool LabelSelector::matches(const Labels& labels) const {
  for (const auto& [key, value] : match_labels) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  for (const auto& requirement : match_expressions) {
    auto it = labels.find(requirement.key);
    const bool present = it != labels.end();
    const bool listed = present && std::find(requirement.values.begin(), requirement.values.end(),
                                             it->second) != requirement.values.end();
    switch (requirement.op) {
      case Operator::kIn:
        if (!listed) return false;
        break;
      case Operator::kNotIn:
        if (listed) return false;
        break;
      case Operator::kExists:
        if (!present) return false;
        break;
      case Operator::kDoesNotExist:
        if (present) return false;
        break;
    }
  }
  return true;
}

Result<LabelSelector> parse_label_selector(const json& selector, const std::string& field) {
  if (!selector.is_object()) return Error{field + ": must be an object"};
  LabelSelector out;
  for (const auto& [key, _] : selector.items()) {
    if (key != "matchLabels" && key != "matchExpressions") {
      return Error{field + "." + key + ": is not a field of a label selector"};
    }
  }
  if (auto labels = selector.find("matchLabels"); labels != selector.end() && !labels->is_null()) {
    if (!labels->is_object()) return Error{field + ".matchLabels: must be a map of strings"};
    for (const auto& [key, value] : labels->items()) {
      if (!value.is_string()) {
        return Error{field + ".matchLabels." + key + ": must be a string, got " + value.dump()};
      }
      out.match_labels.emplace(key, value.get<std::string>());
    }
  }
  if (auto expressions = selector.find("matchExpressions");
      expressions != selector.end() && !expressions->is_null()) {
    if (!expressions->is_array()) return Error{field + ".matchExpressions: must be a list"};
    for (std::size_t i = 0; i < expressions->size(); ++i) {
      auto requirement = parse_requirement((*expressions)[i],
                                           field + ".matchExpressions[" + std::to_string(i) + "]");
      if (!requirement) return requirement.error();
      out.match_expressions.push_back(std::move(requirement).value());
    }
  }
  return out;
}

}  // namespace meshprobe::probe
