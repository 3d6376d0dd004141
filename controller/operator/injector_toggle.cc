#include "operator/injector_toggle.h"

#include <nlohmann/json.hpp>

namespace meshprobe::controller {
namespace {

// ordered_json keeps the user's key order, so filling in one field changes nothing else.
using nlohmann::ordered_json;

constexpr const char* kSection = "sidecarInjectorWebhook";
constexpr const char* kField = "rewriteAppHTTPProbe";

std::optional<ordered_json> parse_object(const std::string& text, std::string& problem) {
  ordered_json document = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) {
    problem = "ConfigMap istio-sidecar-injector: key \"values\" is not a JSON object";
    return std::nullopt;
  }
  return document;
}

// Go's strconv.ParseBool, which Istio's values parsing accepts for booleans given as strings.
std::optional<bool> parse_bool(const ordered_json& value) {
  if (value.is_boolean()) return value.get<bool>();
  if (!value.is_string()) return std::nullopt;
  const auto& s = value.get_ref<const std::string&>();
  if (s == "1" || s == "t" || s == "T" || s == "true" || s == "TRUE" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "false" || s == "FALSE" || s == "False")
    return false;
  return std::nullopt;
}

std::string render(const ordered_json& document) { return document.dump(2); }

}  // namespace

InjectorToggle read_injector_toggle(const std::optional<std::string>& values) {
  InjectorToggle toggle;
  if (!values) return toggle;
  auto document = parse_object(*values, toggle.problem);
  if (!document) return toggle;
  auto section = document->find(kSection);
  if (section == document->end() || !section->is_object()) return toggle;
  auto field = section->find(kField);
  if (field == section->end()) return toggle;
  toggle.rewrite = parse_bool(*field);
  if (!toggle.rewrite) {
    toggle.problem = std::string("ConfigMap istio-sidecar-injector: ") + kSection + "." + kField +
                     " is " + field->dump() + ", not a boolean";
  }
  return toggle;
}

InjectorValuesPlan plan_injector_values(const std::optional<std::string>& values,
                                        std::optional<bool> policy_value, bool default_value) {
  InjectorValuesPlan plan;
  const bool wanted = policy_value.value_or(default_value);
  if (!values) {
    ordered_json document = {{kSection, {{kField, wanted}}}};
    plan.values = render(document);
    return plan;
  }
  auto document = parse_object(*values, plan.problem);
  if (!document) return plan;
  auto& section = (*document)[kSection];
  if (section.is_null()) section = ordered_json::object();
  if (!section.is_object()) {
    plan.problem =
        std::string("ConfigMap istio-sidecar-injector: ") + kSection + " is not an object";
    return plan;
  }
  auto field = section.find(kField);
  if (field == section.end()) {
    section[kField] = wanted;
  } else if (policy_value && parse_bool(*field) != policy_value) {
    *field = *policy_value;
  } else {
    return plan;  // present, and either nothing more specific decides or it already agrees
  }
  plan.values = render(*document);
  return plan;
}

}  // namespace meshprobe::controller
