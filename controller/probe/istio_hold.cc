#include "probe/istio_hold.h"

#include "probe/names.h"
#include "probe/object_fields.h"

namespace meshprobe::probe {
namespace {

using nlohmann::json;

const std::string kRewriteKey(kRewriteAppProbersAnnotation);
const std::string kHoldKey(kIstioRewriteHoldAnnotation);
// A spelling of false (Go's strconv.ParseBool, as Istio reads it) that people rarely write: a
// user's "false" written over the hold is then a change meshprobe sees, and theirs.
constexpr const char* kHeld = "False";

// The recorded state: {"before": value} or {} (no annotation before); also whether the hold
// created the annotations map or the metadata ("created": ["metadata", "annotations"]), and
// which of them were null before ("null": [...]).
struct HoldRecord {
  std::optional<std::string> before;
  bool created_annotations = false;
  bool created_metadata = false;
  bool null_annotations = false;
  bool null_metadata = false;
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
  if (const json* nulls = find_member(parsed, "null"); nulls && nulls->is_array()) {
    for (const auto& item : *nulls) {
      record.null_annotations |= item == "annotations";
      record.null_metadata |= item == "metadata";
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
  json nulls = json::array();
  // parent[key] as an object, noting whether it was absent or null.
  auto ensure = [&](json& parent, const char* key) -> json& {
    if (!parent.contains(key))
      created.push_back(key);
    else if (parent[key].is_null())
      nulls.push_back(key);
    if (!parent[key].is_object()) parent[key] = json::object();
    return parent[key];
  };
  json& annotations = ensure(ensure(pod_template, "metadata"), "annotations");
  if (auto before = string_member(annotations, kRewriteKey)) record["before"] = *before;
  if (!created.empty()) record["created"] = std::move(created);
  if (!nulls.empty()) record["null"] = std::move(nulls);
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
  if (annotations.empty() && hold->created_annotations)
    metadata->erase("annotations");
  else if (annotations.empty() && hold->null_annotations)
    annotations = nullptr;
  if (metadata->empty() && hold->created_metadata)
    pod_template.erase("metadata");
  else if (metadata->empty() && hold->null_metadata)
    pod_template["metadata"] = nullptr;
  return true;
}

}  // namespace meshprobe::probe
