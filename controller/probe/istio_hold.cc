#include "probe/istio_hold.h"

#include "probe/names.h"
#include "probe/object_fields.h"

namespace meshprobe::probe {
namespace {

using nlohmann::json;

const std::string kRewriteKey(kRewriteAppProbersAnnotation);
const std::string kHoldKey(kIstioRewriteHoldAnnotation);
constexpr const char* kHeld = "false";

// The recorded state: {"before": value} or {} (no annotation before); also whether the hold
// created the annotations map or the metadata ("created": ["metadata", "annotations"]).
struct HoldRecord {
  std::optional<std::string> before;
  bool created_annotations = false;
  bool created_metadata = false;
};

std::optional<HoldRecord> read_hold(const json& metadata) {
  auto text = annotation(metadata, kHoldKey);
  if (!text) return std::nullopt;
  const json parsed = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  HoldRecord record;
  if (!parsed.is_object()) return record;  // unreadable: treat as "no annotation before"
  record.before = string_member(parsed, "before");
  if (const json* created = find_member(parsed, "created"); created && created->is_array()) {
    for (const auto& item : *created) {
      record.created_annotations |= item == "annotations";
      record.created_metadata |= item == "metadata";
    }
  }
  return record;
}

}  // namespace

std::optional<std::string> user_rewrite_annotation(const json& template_metadata) {
  const auto current = annotation(template_metadata, kRewriteKey);
  const auto hold = read_hold(template_metadata);
  if (!hold || current != kHeld) return current;
  return hold->before;
}

bool holds_istio_rewrite(const json& pod_template) {
  const json* metadata = find_member(pod_template, "metadata");
  return metadata != nullptr && annotation(*metadata, kHoldKey).has_value();
}

void hold_istio_rewrite(json& pod_template) {
  if (holds_istio_rewrite(pod_template)) return;
  json record = json::object();
  json created = json::array();
  if (!pod_template.contains("metadata") || !pod_template["metadata"].is_object()) {
    if (!pod_template.contains("metadata")) created.push_back("metadata");
    pod_template["metadata"] = json::object();
  }
  json& metadata = pod_template["metadata"];
  if (!metadata.contains("annotations") || !metadata["annotations"].is_object()) {
    if (!metadata.contains("annotations")) created.push_back("annotations");
    metadata["annotations"] = json::object();
  }
  json& annotations = metadata["annotations"];
  if (auto before = string_member(annotations, kRewriteKey)) record["before"] = *before;
  if (!created.empty()) record["created"] = std::move(created);
  annotations[kRewriteKey] = kHeld;
  annotations[kHoldKey] = record.dump();
}

bool release_istio_hold(json& pod_template) {
  json* metadata = find_member(pod_template, "metadata");
  if (metadata == nullptr || !metadata->is_object()) return false;
  const auto hold = read_hold(*metadata);
  if (!hold) return false;
  json& annotations = (*metadata)["annotations"];
  annotations.erase(kHoldKey);
  if (string_member(annotations, kRewriteKey) == kHeld) {
    if (hold->before)
      annotations[kRewriteKey] = *hold->before;
    else
      annotations.erase(kRewriteKey);
  }
  if (annotations.empty() && hold->created_annotations) metadata->erase("annotations");
  if (metadata->empty() && hold->created_metadata) pod_template.erase("metadata");
  return true;
}

}  // namespace meshprobe::probe
