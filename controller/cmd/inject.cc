#include "cmd/inject.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <optional>

#include "cmd/yaml_json.h"
#include "probe/decision.h"
#include "probe/object_fields.h"

namespace meshprobe::cmd {
namespace {

using nlohmann::json;

// One document of the input, as kubectl splits them: at lines that start with "---" and
// have nothing after it but blanks or a comment.
struct Chunk {
  std::string text;
  int first_line = 1;  // 1-based line of the input where `text` starts
};

bool is_separator(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.substr(0, 3) != "---") return false;
  auto rest = line.substr(3);
  auto first = rest.find_first_not_of(" \t");
  return first == std::string_view::npos || rest[first] == '#';
}

std::vector<Chunk> split_documents(std::string_view input) {
  std::vector<Chunk> chunks(1);
  int line_number = 1;
  while (!input.empty()) {
    auto end = input.find('\n');
    auto line = input.substr(0, end == std::string_view::npos ? input.size() : end + 1);
    input.remove_prefix(line.size());
    if (is_separator(line.substr(0, line.find('\n')))) {
      chunks.push_back({"", line_number + 1});
    } else {
      chunks.back().text += line;
    }
    ++line_number;
  }
  for (auto& chunk : chunks) {
    if (!chunk.text.empty() && chunk.text.back() != '\n') chunk.text += '\n';
  }
  return chunks;
}

bool blank(const std::string& text) {
  return text.find_first_not_of(" \t\r\n") == std::string::npos;
}

// Where the pod template of a kind is, as a JSON pointer ("" for a Pod itself).
std::optional<std::string> pod_template_pointer(const std::string& api_version,
                                                const std::string& kind) {
  const std::string group = api_version.find('/') == std::string::npos
                                ? ""
                                : api_version.substr(0, api_version.find('/'));
  struct Location {
    const char* group;
    const char* kind;
    const char* pointer;
  };
  static constexpr std::array<Location, 12> kLocations{{
      {"", "Pod", ""},
      {"", "PodTemplate", "/template"},
      {"", "ReplicationController", "/spec/template"},
      {"apps", "Deployment", "/spec/template"},
      {"apps", "ReplicaSet", "/spec/template"},
      {"apps", "StatefulSet", "/spec/template"},
      {"apps", "DaemonSet", "/spec/template"},
      {"extensions", "Deployment", "/spec/template"},
      {"extensions", "ReplicaSet", "/spec/template"},
      {"extensions", "DaemonSet", "/spec/template"},
      {"batch", "Job", "/spec/template"},
      {"batch", "CronJob", "/spec/jobTemplate/spec/template"},
  }};
  for (const auto& location : kLocations) {
    if (group == location.group && kind == location.kind) return std::string(location.pointer);
  }
  return std::nullopt;
}

std::string scalar_at(const YAML::Node& node, const char* key) {
  if (!node.IsMap()) return "";
  const YAML::Node value = node[key];
  return value && value.IsScalar() ? value.Scalar() : "";
}

// "Deployment shop/web", for messages.
std::string describe_object(const json& object) {
  std::string kind = probe::string_member(object, "kind").value_or("object");
  const json* metadata = probe::find_member(object, "metadata");
  if (metadata == nullptr) return kind;
  auto name = probe::string_member(*metadata, "name");
  auto namespace_name = probe::string_member(*metadata, "namespace");
  if (!name) return kind;
  return kind + " " + (namespace_name ? *namespace_name + "/" : "") + *name;
}

// "List", "DeploymentList", ...: what `kubectl get -o yaml` writes for several objects.
bool is_list_kind(const std::string& kind) { return kind.ends_with("List"); }

class DocumentInjector {
 public:
  DocumentInjector(const InjectOptions& options, std::vector<std::string>& warnings)
      : options_(options), warnings_(warnings) {}

  // Rewrites (or restores) the pod template inside `object`, if it has one; true when
  // `object` changed. `where` names the object in messages.
  Result<bool> apply(json& object, const std::string& where) {
    const std::string api_version = probe::string_member(object, "apiVersion").value_or("");
    const std::string kind = probe::string_member(object, "kind").value_or("");
    if (const json* items = probe::find_member(object, "items");
        items != nullptr && items->is_array() && is_list_kind(kind)) {
      return apply_to_list(object, where);
    }
    auto pointer = pod_template_pointer(api_version, kind);
    if (!pointer) return false;
    const bool is_pod = pointer->empty();
    const json::json_pointer location(*pointer);
    std::string template_field = is_pod ? "" : pointer->substr(1);
    std::replace(template_field.begin(), template_field.end(), '/', '.');
    auto field_name = [&](const std::string& field) {
      return is_pod ? field : template_field + "." + field;
    };
    json pod_template;
    if (is_pod) {
      pod_template = json::object();
      for (const char* key : {"metadata", "spec"}) {
        if (object.contains(key)) pod_template[key] = object[key];
      }
    } else {
      if (!object.contains(location) || !object[location].is_object()) {
        return Error{where + ": " + template_field + ": must be a pod template (an object)"};
      }
      pod_template = object[location];
    }

    Result<probe::RewriteResult> result = Error{};
    if (options_.restore) {
      result = probe::restore(pod_template, options_.agent.port);
    } else {
      probe::DecisionInput input;
      input.workload_kind = kind;
      input.workload_metadata = is_pod ? nullptr : probe::find_member(object, "metadata");
      input.pod_template = &pod_template;
      input.explicit_scope = true;  // rewrite what it is given, wherever it will run
      const probe::Decision decision = probe::decide(input);
      for (const auto& note : decision.notes) warnings_.push_back(where + ": " + note);
      if (!decision.rewrite) {
        warnings_.push_back(where + ": not rewritten: " +
                            (decision.source == probe::DecisionSource::kMeshScope
                                 ? decision.message
                                 : "rewriting is off by " + decision.message));
      }
      result = probe::apply_decision(decision, pod_template, options_.agent);
    }
    if (!result) return Error{where + ": " + field_name(result.error().message)};
    for (const auto& report : result->probes) {
      const std::string field = field_name(report.field);
      if (report.outcome == probe::ProbeOutcome::kMalformed)
        return Error{where + ": " + field + ": " + report.reason};
      if (report.outcome == probe::ProbeOutcome::kInvalid ||
          report.outcome == probe::ProbeOutcome::kUserChanged ||
          report.outcome == probe::ProbeOutcome::kLeftToIstio) {
        warnings_.push_back(where + ": " + field + " left as it was: " + report.reason);
      }
    }
    for (const auto& note : result->notes) warnings_.push_back(where + ": " + note);
    if (!result->changed) return false;
    if (is_pod) {
      for (const char* key : {"metadata", "spec"}) {
        if (result->pod_template.contains(key))
          object[key] = result->pod_template[key];
        else
          object.erase(key);
      }
    } else {
      object[location] = std::move(result->pod_template);
    }
    return true;
  }

 private:
  Result<bool> apply_to_list(json& list, const std::string& where) {
    bool changed = false;
    json& items = list["items"];
    for (std::size_t i = 0; i < items.size(); ++i) {
      auto item = apply(items[i], where + ", items[" + std::to_string(i) + "] (" +
                                      describe_object(items[i]) + ")");
      if (!item) return item.error();
      changed |= *item;
    }
    return changed;
  }

  const InjectOptions& options_;
  std::vector<std::string>& warnings_;
};

}  // namespace

Result<InjectOutput> inject(std::string_view input, const InjectOptions& options) {
  InjectOutput output;
  DocumentInjector injector(options, output.warnings);
  int index = 0;
  for (const auto& chunk : split_documents(input)) {
    if (blank(chunk.text)) continue;
    ++index;
    const std::string document = "document " + std::to_string(index);
    YAML::Node node;
    try {
      node = YAML::Load(chunk.text);
    } catch (const YAML::Exception& error) {
      return Error{document + ": line " + std::to_string(chunk.first_line + error.mark.line) +
                   ", column " + std::to_string(error.mark.column + 1) + ": " + error.msg};
    }
    std::string body = chunk.text;
    if (node.IsMap()) {
      const std::string kind = scalar_at(node, "kind");
      const bool may_hold_template =
          pod_template_pointer(scalar_at(node, "apiVersion"), kind) ||
          (is_list_kind(kind) && static_cast<const YAML::Node&>(node)["items"]);
      if (may_hold_template) {
        auto object = yaml_to_json(node);
        const std::string where = document + " (" + (object ? describe_object(*object) : kind) +
                                  ", line " + std::to_string(chunk.first_line) + ")";
        if (!object) return Error{where + ": " + object.error().message};
        auto applied = injector.apply(object.value(), where);
        if (!applied) return applied.error();
        if (*applied) {
          body = json_to_yaml(*object, node);
          // Safety net: what we write must read back as exactly what we meant.
          Result<json> reread = Error{"not YAML"};
          try {
            reread = yaml_to_json(YAML::Load(body));
          } catch (const YAML::Exception&) {
          }
          if (!reread || *reread != *object) {
            return Error{where +
                         ": internal error: the rewritten YAML does not read back the same; "
                         "nothing written"};
          }
        }
      }
    } else if (!node.IsNull()) {
      return Error{
          document + " (line " + std::to_string(chunk.first_line) +
          "): must be a mapping (a Kubernetes object), got " +
          (node.IsSequence() ? std::string("a list") : "the scalar \"" + node.Scalar() + "\"")};
    }
    if (!output.manifests.empty()) output.manifests += "---\n";
    output.manifests += body;
  }
  return output;
}

}  // namespace meshprobe::cmd
