#include "probe/rewrite.h"

#include <algorithm>
#include <array>
#include <set>
#include <variant>

#include "probe/istio_hold.h"
#include "probe/mesh.h"
#include "probe/object_fields.h"
#include "probe/port_list.h"

namespace meshprobe::probe {
namespace {

using nlohmann::json;

// Every action a probe or a lifecycle handler can hold; exactly one must be set.
constexpr std::array<std::string_view, 4> kProbeActions{"exec", "httpGet", "tcpSocket", "grpc"};
constexpr std::array<std::string_view, 4> kHandlerActions{"exec", "httpGet", "tcpSocket", "sleep"};
constexpr std::array<std::string_view, 5> kAllActions{"exec", "httpGet", "tcpSocket", "grpc",
                                                      "sleep"};

constexpr const char* kUnknownOriginal =
    "points at the agent, but meshprobe has no record of the original probe; restore it by hand";

// Lifecycle hooks have no timeout of their own: the kubelet bounds them by the pod's grace
// period, so the agent gets that (Kubernetes' default when unset).
constexpr int kDefaultGracePeriodSeconds = 30;
constexpr int kMaxTimeoutSeconds = 86400;  // the agent's limit (app_probers.h)

// What the API server fills in when a probe leaves it out. A rewritten probe carries them
// explicitly, so that the template the API server stores is the template rewrite() wrote
// (rewrite of the stored template changes nothing); restore drops them again where the
// original had left them out.
const std::array<std::pair<std::string_view, int>, 4> kProbeDefaults{{{"timeoutSeconds", 1},
                                                                      {"periodSeconds", 10},
                                                                      {"successThreshold", 1},
                                                                      {"failureThreshold", 3}}};

struct SlotField {
  ProbeSlot slot;
  bool lifecycle;  // under container.lifecycle
  std::string_view key;
};

constexpr std::array<SlotField, 5> kSlotFields{{
    {ProbeSlot::kLiveness, false, "livenessProbe"},
    {ProbeSlot::kReadiness, false, "readinessProbe"},
    {ProbeSlot::kStartup, false, "startupProbe"},
    {ProbeSlot::kPreStop, true, "preStop"},
    {ProbeSlot::kPostStart, true, "postStart"},
}};

// A container of the pod template, by position.
struct ContainerRef {
  std::string list;  // "initContainers" or "containers"
  std::size_t index = 0;
  std::string name;
  bool agent = false;     // meshprobe's own agent
  bool in_scope = false;  // a container, or a native sidecar init container; not Istio's
  bool istio = false;     // istio-proxy, istio-init, istio-validation: never touched

  std::string field() const { return "spec." + list + "[" + std::to_string(index) + "]"; }
};

json& container_at(json& pod_template, const ContainerRef& ref) {
  return pod_template["spec"][ref.list][ref.index];
}

bool is_agent_container(const json& container) {
  const json* ports = find_member(container, "ports");
  if (ports == nullptr || !ports->is_array()) return false;
  return std::any_of(ports->begin(), ports->end(), [](const json& port) {
    return string_member(port, "name") == kAgentPortName;
  });
}

std::optional<int> agent_port_of(const json& container) {
  for (const auto& port : container["ports"]) {
    if (string_member(port, "name") == kAgentPortName && port.contains("containerPort") &&
        port["containerPort"].is_number_integer()) {
      return port["containerPort"].get<int>();
    }
  }
  return std::nullopt;
}

// The containers of a pod template; an error for anything that is not a pod template's shape.
Result<std::vector<ContainerRef>> containers_of(const json& pod_template) {
  if (!pod_template.is_object()) return Error{"the pod template must be an object"};
  if (pod_template.contains("metadata") && !pod_template["metadata"].is_null()) {
    const json& metadata = pod_template["metadata"];
    if (!metadata.is_object()) return Error{"metadata: must be an object"};
    if (const json* annotations = find_member(metadata, "annotations");
        annotations && !annotations->is_object()) {
      return Error{"metadata.annotations: must be a map of strings"};
    }
  }
  const json* spec = find_member(pod_template, "spec");
  if (spec == nullptr || !spec->is_object()) return Error{"spec: must be an object"};
  std::vector<ContainerRef> refs;
  std::set<std::string> names;
  for (const char* list : {"initContainers", "containers"}) {
    const json* containers = find_member(*spec, list);
    if (containers == nullptr) continue;
    if (!containers->is_array()) return Error{std::string("spec.") + list + ": must be a list"};
    for (std::size_t i = 0; i < containers->size(); ++i) {
      ContainerRef ref;
      ref.list = list;
      ref.index = i;
      const json& container = (*containers)[i];
      if (!container.is_object()) return Error{ref.field() + ": must be an object"};
      auto name = string_member(container, "name");
      if (!name || !parse_prober_path(prober_path(*name, ProbeSlot::kLiveness))) {
        return Error{ref.field() +
                     ".name: must be a DNS label (lower-case letters, digits and '-'), got " +
                     (name ? "\"" + *name + "\"" : std::string("nothing"))};
      }
      if (!names.insert(*name).second) {
        return Error{ref.field() + ".name: \"" + *name + "\" is the name of another container too"};
      }
      ref.name = *name;
      if (*name == kAgentContainerName) {
        if (!is_agent_container(container)) {
          return Error{ref.field() + ".name: \"" + *name +
                       "\" is reserved for meshprobe's agent; rename this container"};
        }
        ref.agent = true;
      }
      ref.istio = is_istio_container(ref.name);
      ref.in_scope =
          !ref.agent && !ref.istio &&
          (ref.list == "containers" || string_member(container, "restartPolicy") == "Always");
      refs.push_back(std::move(ref));
    }
  }
  return refs;
}

const json* slot_value(const json& container, const SlotField& slot) {
  const json* parent = slot.lifecycle ? find_member(container, "lifecycle") : &container;
  return parent != nullptr ? find_member(*parent, slot.key) : nullptr;
}

json* slot_value(json& container, const SlotField& slot) {
  return const_cast<json*>(slot_value(static_cast<const json&>(container), slot));
}

ProbeProtocol protocol_of(std::string_view action) {
  return action == "tcpSocket" ? ProbeProtocol::kTcp
         : action == "grpc"    ? ProbeProtocol::kGrpc
                               : ProbeProtocol::kHttp;
}

std::string slot_field(const ContainerRef& ref, const SlotField& slot) {
  return ref.field() + (slot.lifecycle ? ".lifecycle." : ".") + std::string(slot.key);
}

ProbeReport report_for(const ContainerRef& ref, const SlotField& slot) {
  ProbeReport report;
  report.container = ref.name;
  report.init_container = ref.list == "initContainers";
  report.slot = slot.slot;
  report.field = slot_field(ref, slot);
  return report;
}

std::string record_key(ProbeSlot slot) { return std::string(slot_name(slot)); }

// ---- the record (annotation meshprobe.io/original-probes) ----

struct Record {
  int agent_port = 0;
  json probes = json::object();  // container -> slot name -> original
  std::optional<std::string> exclude_inbound_ports;
  // initContainers, metadata, annotations: those the original had present but empty, and
  // those it had present as null (`annotations:` with nothing under it, as templated YAML
  // often has). restore() removes what it empties unless it is listed here, and puts a listed
  // null back. (Recording what was empty, not what rewrite() created, keeps the record stable
  // when others add to them later, as kubectl apply and kubectl rollout restart do to
  // annotations.)
  std::set<std::string> empty;
  std::set<std::string> null;

  // What `parent[key]`, about to be filled, was: empty or null is recorded.
  void note_original(const json& parent, const std::string& key) {
    const auto it = parent.find(key);
    if (it == parent.end()) return;
    if (it->is_null())
      null.insert(key);
    else if (it->empty())
      empty.insert(key);
  }

  json to_json() const {
    json out = {{"agentPort", agent_port}, {"probes", probes}};
    if (exclude_inbound_ports) out["excludeInboundPorts"] = *exclude_inbound_ports;
    if (!empty.empty()) out["empty"] = empty;
    if (!null.empty()) out["null"] = null;
    return out;
  }
};

std::optional<Record> read_record(const json& pod_template, std::vector<std::string>& notes) {
  auto text = annotation(find_member(pod_template, "metadata") ? pod_template["metadata"] : json(),
                         kOriginalProbesAnnotation);
  if (!text) return std::nullopt;
  const json parsed = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  const json* agent_port = find_member(parsed, "agentPort");
  const json* probes = find_member(parsed, "probes");
  const json* exclude = find_member(parsed, "excludeInboundPorts");
  const json* empty = find_member(parsed, "empty");
  const json* null = find_member(parsed, "null");
  const bool well_formed =
      agent_port && agent_port->is_number_integer() && probes && probes->is_object() &&
      std::all_of(probes->begin(), probes->end(), [](const json& p) { return p.is_object(); }) &&
      (!exclude || exclude->is_string()) && (!empty || empty->is_array()) &&
      (!null || null->is_array());
  if (!well_formed) {
    notes.push_back("the annotation " + std::string(kOriginalProbesAnnotation) +
                    " is not a record meshprobe wrote; it was ignored");
    return std::nullopt;
  }
  Record record;
  record.agent_port = agent_port->get<int>();
  record.probes = *probes;
  if (exclude) record.exclude_inbound_ports = exclude->get<std::string>();
  for (const auto& [list, names] :
       {std::pair{empty, &record.empty}, std::pair{null, &record.null}}) {
    if (list == nullptr) continue;
    for (const auto& item : *list) {
      if (item.is_string()) names->insert(item.get<std::string>());
    }
  }
  return record;
}

// ---- reading one probe or handler ----

struct Problem {
  ProbeOutcome outcome;  // kInvalid or kMalformed
  std::string reason;
};

struct ResolvedPort {
  int number = 0;
  std::string shown;  // "8080", or "http=8080" for a named port
};

std::string shorten(const json& value) {
  std::string text = value.dump();
  return text.size() > 60 ? text.substr(0, 57) + "..." : text;
}

std::variant<ResolvedPort, Problem> resolve_port(const json& action, std::string_view action_name,
                                                 const json& container,
                                                 const std::string& container_name,
                                                 bool names_allowed) {
  const std::string field = std::string(action_name) + ".port";
  const json* port = find_member(action, "port");
  if (port == nullptr) return Problem{ProbeOutcome::kMalformed, field + " is missing"};
  if (port->is_number_integer()) {
    const auto number = port->get<long long>();
    if (number < 1 || number > 65535) {
      return Problem{ProbeOutcome::kMalformed, field + " must be in 1..65535, got " + port->dump()};
    }
    return ResolvedPort{static_cast<int>(number), std::to_string(number)};
  }
  if (!port->is_string() || !names_allowed) {
    return Problem{ProbeOutcome::kMalformed,
                   field + " must be " +
                       (names_allowed ? "a port number or name" : "a port number") + ", got " +
                       shorten(*port)};
  }
  const std::string name = port->get<std::string>();
  if (const json* ports = find_member(container, "ports"); ports != nullptr && ports->is_array()) {
    for (const auto& declared : *ports) {
      if (string_member(declared, "name") != name) continue;
      const json* number = find_member(declared, "containerPort");
      if (number == nullptr || !number->is_number_integer() || number->get<long long>() < 1 ||
          number->get<long long>() > 65535) {
        return Problem{ProbeOutcome::kMalformed,
                       "the containerPort of port \"" + name + "\" is not in 1..65535"};
      }
      return ResolvedPort{number->get<int>(), name + "=" + std::to_string(number->get<int>())};
    }
  }
  return Problem{ProbeOutcome::kInvalid, "named port \"" + name +
                                             "\" is not declared in the ports of container \"" +
                                             container_name + "\""};
}

std::optional<Problem> read_host(const json& action, std::string_view action_name,
                                 std::string& host) {
  const json* value = find_member(action, "host");
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) {
    return Problem{ProbeOutcome::kMalformed, std::string(action_name) + ".host must be a string"};
  }
  host = value->get<std::string>();
  if (!is_pod_local_host(host)) {
    return Problem{ProbeOutcome::kInvalid,
                   std::string(action_name) + ".host \"" + host +
                       "\" is not the pod itself: the agent probes only the pod's own addresses "
                       "(Pod Security Baseline forbids other hosts too)"};
  }
  return std::nullopt;
}

// A rewritable probe, read: what the agent will do and what the scope needs to know.
struct Rewritable {
  AppProber prober;
  ProbeProtocol protocol = ProbeProtocol::kHttp;
  int port = 0;
  std::string before;
  std::string method = "GET";  // the kubelet's request, for AuthorizationPolicies
  std::string path = "/";
};

std::variant<Rewritable, Problem> read_http_get(const json& action, const json& container,
                                                const std::string& name) {
  if (!action.is_object()) return Problem{ProbeOutcome::kMalformed, "httpGet must be an object"};
  HttpGetAction http;
  if (auto problem = read_host(action, "httpGet", http.host)) return *problem;
  auto port = resolve_port(action, "httpGet", container, name, true);
  if (auto* problem = std::get_if<Problem>(&port)) return *problem;
  http.port = std::get<ResolvedPort>(port).number;
  if (const json* path = find_member(action, "path")) {
    if (!path->is_string())
      return Problem{ProbeOutcome::kMalformed, "httpGet.path must be a string"};
    http.path = path->get<std::string>();
    if (http.path.empty() || http.path.front() != '/')
      http.path = "/" + http.path;  // as the kubelet's URL does
  }
  if (const json* scheme = find_member(action, "scheme")) {
    if (!scheme->is_string() || (*scheme != "HTTP" && *scheme != "HTTPS")) {
      return Problem{ProbeOutcome::kMalformed,
                     "httpGet.scheme must be HTTP or HTTPS, got " + shorten(*scheme)};
    }
    http.scheme = scheme->get<std::string>();
  }
  if (const json* headers = find_member(action, "httpHeaders")) {
    if (!headers->is_array())
      return Problem{ProbeOutcome::kMalformed, "httpGet.httpHeaders must be a list"};
    for (const auto& header : *headers) {
      auto header_name = string_member(header, "name");
      const json* value = find_member(header, "value");
      if (!header_name || (value != nullptr && !value->is_string())) {
        return Problem{ProbeOutcome::kMalformed,
                       "httpGet.httpHeaders entries must be {name: string, value: string}"};
      }
      http.headers.push_back({*header_name, value ? value->get<std::string>() : ""});
    }
  }
  Rewritable out;
  out.protocol = ProbeProtocol::kHttp;
  out.port = http.port;
  out.before = "httpGet " + std::string(http.scheme == "HTTPS" ? "HTTPS " : "") + http.host + ":" +
               std::get<ResolvedPort>(port).shown + http.path;
  out.path = http.path;
  out.prober.action = std::move(http);
  return out;
}

std::variant<Rewritable, Problem> read_tcp_socket(const json& action, const json& container,
                                                  const std::string& name) {
  if (!action.is_object()) return Problem{ProbeOutcome::kMalformed, "tcpSocket must be an object"};
  TcpSocketAction tcp;
  if (auto problem = read_host(action, "tcpSocket", tcp.host)) return *problem;
  auto port = resolve_port(action, "tcpSocket", container, name, true);
  if (auto* problem = std::get_if<Problem>(&port)) return *problem;
  tcp.port = std::get<ResolvedPort>(port).number;
  Rewritable out;
  out.protocol = ProbeProtocol::kTcp;
  out.port = tcp.port;
  out.before = "tcpSocket " + tcp.host + ":" + std::get<ResolvedPort>(port).shown;
  out.prober.action = std::move(tcp);
  return out;
}

std::variant<Rewritable, Problem> read_grpc(const json& action, const json& container,
                                            const std::string& name) {
  if (!action.is_object()) return Problem{ProbeOutcome::kMalformed, "grpc must be an object"};
  GrpcAction grpc;
  auto port = resolve_port(action, "grpc", container, name, false);
  if (auto* problem = std::get_if<Problem>(&port)) return *problem;
  grpc.port = std::get<ResolvedPort>(port).number;
  if (const json* service = find_member(action, "service")) {
    if (!service->is_string())
      return Problem{ProbeOutcome::kMalformed, "grpc.service must be a string"};
    grpc.service = service->get<std::string>();
  }
  Rewritable out;
  out.protocol = ProbeProtocol::kGrpc;
  out.port = grpc.port;
  out.before = "grpc :" + std::to_string(grpc.port) +
               (grpc.service ? " service \"" + *grpc.service + "\"" : "");
  out.method = "POST";  // gRPC's health check over HTTP/2
  out.path = "/grpc.health.v1.Health/Check";
  out.prober.action = std::move(grpc);
  return out;
}

// The timeout the agent uses: the probe's timeoutSeconds (Kubernetes' default 1), or for a
// lifecycle hook the pod's grace period.
std::variant<int, Problem> agent_timeout(const json& handler, const SlotField& slot,
                                         const json& spec) {
  if (slot.lifecycle) {
    const json* grace = find_member(spec, "terminationGracePeriodSeconds");
    if (grace == nullptr || !grace->is_number_integer()) return kDefaultGracePeriodSeconds;
    return static_cast<int>(std::clamp<long long>(grace->get<long long>(), 1, kMaxTimeoutSeconds));
  }
  const json* timeout = find_member(handler, "timeoutSeconds");
  if (timeout == nullptr) return 1;
  if (!timeout->is_number_integer() || timeout->get<long long>() < 0) {
    return Problem{ProbeOutcome::kMalformed,
                   "timeoutSeconds must be a non-negative integer, got " + shorten(*timeout)};
  }
  return static_cast<int>(std::clamp<long long>(timeout->get<long long>(), 1, kMaxTimeoutSeconds));
}

// Which action a probe or handler holds: its name, or a problem when it holds none or several.
std::variant<std::string, Problem> action_of(const json& handler, const SlotField& slot) {
  if (!handler.is_object()) return Problem{ProbeOutcome::kMalformed, "must be an object"};
  const auto& allowed = slot.lifecycle ? kHandlerActions : kProbeActions;
  std::vector<std::string> present;
  for (auto action : allowed) {
    if (find_member(handler, action)) present.emplace_back(action);
  }
  if (present.size() == 1) return present.front();
  std::string names;
  for (auto action :
       (present.empty() ? std::vector<std::string>(allowed.begin(), allowed.end()) : present)) {
    names += (names.empty() ? "" : present.empty() ? " or " : " and ") + action;
  }
  return Problem{ProbeOutcome::kMalformed, present.empty()
                                               ? "has no action (needs one of " + names + ")"
                                               : "has more than one action: " + names};
}

bool points_at_agent(const json& handler, const std::string& container, ProbeSlot slot,
                     const std::set<int>& agent_ports) {
  const json* http = find_member(handler, "httpGet");
  if (http == nullptr) return false;
  const json* port = find_member(*http, "port");
  return string_member(*http, "path") == prober_path(container, slot) && port != nullptr &&
         port->is_number_integer() && agent_ports.count(port->get<int>());
}

std::string describe_agent_probe(int agent_port, const std::string& path) {
  return "httpGet :" + std::to_string(agent_port) + path;
}

// The probe as rewritten: the action replaced by an httpGet on the agent (scheme HTTP); every
// other field, and an httpGet's headers, kept; the API server's defaults written out.
json rewritten_handler(const json& original, const std::string& path, int agent_port,
                       bool lifecycle) {
  json out = original;
  out.erase("tcpSocket");
  out.erase("grpc");
  json http = original.contains("httpGet") ? original["httpGet"] : json::object();
  http.erase("host");
  http["path"] = path;
  http["port"] = agent_port;
  http["scheme"] = "HTTP";
  out["httpGet"] = std::move(http);
  if (!lifecycle) {
    for (const auto& [field, value] : kProbeDefaults) {
      if (!find_member(out, field)) out[std::string(field)] = value;
    }
  }
  return out;
}

// The current probe with its action replaced by `original`'s: exactly the original when nobody
// touched the rewritten probe (defaults the original left out are left out again), and keeps
// anybody's later edits to its timing and thresholds.
json with_action_of(const json& current, const json& original) {
  json out = current;
  for (auto action : kAllActions) out.erase(action);
  for (auto action : kAllActions) {
    if (const json* value = find_member(original, action)) out[std::string(action)] = *value;
  }
  for (const auto& [field, value] : kProbeDefaults) {
    const json* now = find_member(out, field);
    if (now == nullptr || *now != value || find_member(original, field)) continue;
    // The original left it out, or wrote it as null (`failureThreshold:` with nothing after it):
    // it comes back the same way.
    if (original.is_object() && original.contains(field))
      out[std::string(field)] = nullptr;
    else
      out.erase(std::string(field));
  }
  return out;
}

json agent_container(const AgentConfig& agent, const AppProbers& probers) {
  const std::string port = std::to_string(agent.port);
  return {
      {"name", kAgentContainerName},
      {"image", agent.image},
      // Written out with the API server's defaults so that a template read back from the
      // API server compares equal to the one the engine produced.
      {"imagePullPolicy", "IfNotPresent"},
      {"args", {"--port", port}},
      {"ports", {{{"name", kAgentPortName}, {"containerPort", agent.port}, {"protocol", "TCP"}}}},
      {"env",
       {{{"name", kAppProbersEnvName}, {"value", serialize_app_probers(probers)}},
        {{"name", kPodIpEnvName},
         {"valueFrom", {{"fieldRef", {{"apiVersion", "v1"}, {"fieldPath", "status.podIP"}}}}}}}},
      {"resources",
       {{"requests", {{"cpu", "10m"}, {"memory", "16Mi"}}},
        {"limits", {{"cpu", "100m"}, {"memory", "32Mi"}}}}},
      {"restartPolicy", "Always"},
      {"securityContext",
       {{"runAsUser", kAgentUserId},
        {"runAsGroup", kAgentUserId},
        {"runAsNonRoot", true},
        {"readOnlyRootFilesystem", true},
        {"allowPrivilegeEscalation", false},
        {"capabilities", {{"drop", {"ALL"}}}},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"terminationMessagePath", "/dev/termination-log"},
      {"terminationMessagePolicy", "File"},
  };
}

// `desired` over `existing`: objects merge member by member with desired's values winning;
// anything else is desired's. Keeps what others (admission plugins, policy engines) added to
// the agent container, so that meshprobe does not fight them.
json merged_over(const json& existing, const json& desired) {
  if (!existing.is_object() || !desired.is_object()) return desired;
  json out = existing;
  for (const auto& [key, value] : desired.items()) {
    out[key] = out.contains(key) ? merged_over(out[key], value) : value;
  }
  return out;
}

// The container that declares `port` (other than the agent), if any: the agent could not bind it.
std::optional<std::string> port_owner(const json& pod_template,
                                      const std::vector<ContainerRef>& refs, int port) {
  for (const auto& ref : refs) {
    const json* ports = find_member(pod_template["spec"][ref.list][ref.index], "ports");
    if (ref.agent || ports == nullptr || !ports->is_array()) continue;
    for (const auto& declared : *ports) {
      const json* number = find_member(declared, "containerPort");
      if (number != nullptr && number->is_number_integer() && number->get<long long>() == port)
        return ref.name;
    }
  }
  return std::nullopt;
}

// parent[key] as an object (created when absent); noted in the record when it was there but empty.
json& ensure_object(json& parent, const std::string& key, Record& record) {
  record.note_original(parent, key);
  if (!parent.contains(key) || !parent[key].is_object()) parent[key] = json::object();
  return parent[key];
}

// Removes parent[key] when restore() emptied it (`was_empty`: it was empty before), unless
// the original had it present and empty; puts back a null the original had.
void erase_if_emptied(json& parent, const std::string& key, const std::optional<Record>& record,
                      bool was_empty) {
  if (!parent.contains(key) || !parent[key].empty() || was_empty) return;
  if (record && record->null.count(key))
    parent[key] = nullptr;
  else if (!record || !record->empty.count(key))
    parent.erase(key);
}

// Puts excludeInboundPorts back as it was before the rewrite; when someone changed the list
// since, keeps their change and takes out only the agent port meshprobe added.
void restore_excluded_ports(json& annotations, const std::optional<Record>& record,
                            std::optional<int> agent_port) {
  const std::string key(kExcludeInboundPortsAnnotation);
  const auto current = string_member(annotations, key);
  std::optional<std::string> before = record ? record->exclude_inbound_ports : std::nullopt;
  const int port = record ? record->agent_port : agent_port.value_or(0);
  if (!record && !agent_port) return;
  if (record && current == port_list_with(before, port)) {
    if (before)
      annotations[key] = *before;
    else
      annotations.erase(key);
    return;
  }
  if (!current || (before && port_list_contains(*before, port))) return;
  const std::string without = port_list_without(*current, port);
  if (trim(without).empty() && !before)
    annotations.erase(key);
  else
    annotations[key] = without;
}

// What rewrite() decides about one probe or hook of the restored template.
struct Verdict {
  ProbeReport report;
  std::optional<AppProber> prober;  // set: rewrite it, and the agent does this
};

// Decides, for one probe or hook, whether it is rewritten, and if not, why.
struct Judge {
  const AgentConfig& agent;
  const RewriteScope& scope;
  const json& metadata;  // of the pod template: which ports the sidecar captures
  const json& spec;      // of the pod template: the hooks' grace period
  std::optional<std::string> agent_port_owner;  // a container that declares the agent port
  const IstioSidecar& istio;  // an istio-proxy the template already holds, and its status port

  Verdict operator()(const json& handler, const json& container, const ContainerRef& ref,
                     const SlotField& slot) const {
    Verdict verdict{report_for(ref, slot), std::nullopt};
    ProbeReport& report = verdict.report;
    auto refuse = [&](const Problem& problem, std::string before) {
      report.outcome = problem.outcome;
      report.reason = problem.reason;
      if (report.before.empty()) report.before = std::move(before);
      return verdict;
    };
    auto action = action_of(handler, slot);
    if (auto* problem = std::get_if<Problem>(&action)) return refuse(*problem, shorten(handler));
    report.action = std::get<std::string>(action);
    const json& action_value = handler[report.action];
    const std::string described = report.action + " " + shorten(action_value);
    if (report.action == "exec" || report.action == "sleep") {
      return refuse({ProbeOutcome::kNotRewritable, ""}, report.action);
    }
    if (auto left = left_to_istio(action_value, ref.name, slot.slot)) {
      return refuse({ProbeOutcome::kLeftToIstio, *left},
                    describe_agent_probe(istio.status_port,
                                         string_member(action_value, "path").value_or("")));
    }
    if (auto exclusion = scope.policy_exclusion(slot.slot, protocol_of(report.action))) {
      return refuse({ProbeOutcome::kExcludedByPolicy, exclusion->reason}, described);
    }
    auto read = report.action == "httpGet"     ? read_http_get(action_value, container, ref.name)
                : report.action == "tcpSocket" ? read_tcp_socket(action_value, container, ref.name)
                                               : read_grpc(action_value, container, ref.name);
    if (auto* problem = std::get_if<Problem>(&read)) return refuse(*problem, described);
    auto& rewritable = std::get<Rewritable>(read);
    report.before = rewritable.before;
    auto timeout = agent_timeout(handler, slot, spec);
    if (auto* problem = std::get_if<Problem>(&timeout)) return refuse(*problem, "");
    if (points_at_agent(handler, ref.name, slot.slot, {agent.port})) {
      return refuse({ProbeOutcome::kInvalid, kUnknownOriginal}, "");
    }
    if (rewritable.port == agent.port || agent_port_owner) {
      return refuse({ProbeOutcome::kInvalid,
                     "the agent port " + std::to_string(agent.port) + " is used by container \"" +
                         agent_port_owner.value_or(ref.name) + "\"; configure another agent port"},
                    "");
    }
    std::string required_because;
    if (auto exclusion = scope.exclusion(
            {ref.name, slot.slot, rewritable.protocol, rewritable.port,
             inbound_port_captured(metadata, rewritable.port), rewritable.method, rewritable.path},
            &required_because)) {
      const bool by_policy = exclusion->kind == ScopeExclusion::Kind::kByPolicy;
      return refuse({by_policy ? ProbeOutcome::kExcludedByPolicy : ProbeOutcome::kNotRequired,
                     exclusion->reason},
                    "");
    }
    rewritable.prober.timeout_seconds = std::get<int>(timeout);
    verdict.prober = std::move(rewritable.prober);
    report.outcome = ProbeOutcome::kRewritten;
    report.reason = std::move(required_because);
    report.after = describe_agent_probe(agent.port, prober_path(ref.name, slot.slot));
    return verdict;
  }

  // A probe Istio already rewrote (an httpGet on its status port, in a template that holds
  // istio-proxy) stays Istio's: meshprobe never chains a probe through pilot-agent. Sets the
  // report's description; the reason is returned.
  std::optional<std::string> left_to_istio(const json& action, const std::string& container,
                                           ProbeSlot slot) const {
    if (!istio.present || !action.is_object()) return std::nullopt;
    const json* port = find_member(action, "port");
    if (port == nullptr || !port->is_number_integer() || port->get<int>() != istio.status_port)
      return std::nullopt;
    const std::string path = string_member(action, "path").value_or("");
    const bool recorded =
        path == prober_path(container, slot) && istio.app_prober_paths.count(path);
    return std::string("Istio rewrote it to its status port ") + std::to_string(istio.status_port) +
           (recorded ? ", the original is in istio-proxy's " + std::string(kAppProbersEnvName)
                     : "");
  }
};

// ---- restore(), step by step ----

// What an earlier rewrite left of the agent: the ports that mean "the agent" (the configured
// one, the recorded one, the agent container's own) and the agent's ISTIO_KUBE_APP_PROBERS.
struct AgentTraces {
  std::set<int> ports;
  std::optional<int> port;  // the agent container's own port, when it is there
  std::optional<AppProbers> probers;
};

AgentTraces read_agent(const json& pod_template, const std::vector<ContainerRef>& refs,
                       const std::optional<Record>& record, int agent_port,
                       std::vector<std::string>& notes) {
  AgentTraces traces;
  traces.ports.insert(agent_port);
  if (record) traces.ports.insert(record->agent_port);
  for (const auto& ref : refs) {
    if (!ref.agent) continue;
    const json& agent = pod_template["spec"][ref.list][ref.index];
    traces.port = agent_port_of(agent);
    if (traces.port) traces.ports.insert(*traces.port);
    const json* env = find_member(agent, "env");
    if (env == nullptr || !env->is_array()) continue;
    for (const auto& variable : *env) {
      if (string_member(variable, "name") != kAppProbersEnvName) continue;
      auto parsed = parse_app_probers(string_member(variable, "value").value_or(""));
      if (parsed)
        traces.probers = std::move(parsed).value();
      else
        notes.push_back("the agent's configuration is unreadable: " + parsed.error().message);
    }
  }
  return traces;
}

// One probe that points at the agent gets its original action back: the recorded one, else the
// one in the agent's configuration; reported kInvalid when neither is known.
void restore_probe(json& handler, const SlotField& slot, const std::string& path,
                   const json* original, const AgentTraces& agent, ProbeReport& report) {
  report.before = describe_agent_probe(handler["httpGet"]["port"].get<int>(), path);
  if (original != nullptr) {
    handler = with_action_of(handler, *original);
    report.outcome = ProbeOutcome::kRestored;
    report.reason = "the recorded original is back";
  } else if (agent.probers && agent.probers->count(path)) {
    json action = app_probers_to_json({{path, agent.probers->at(path)}})[path];
    action.erase("timeoutSeconds");
    handler = with_action_of(handler, action);
    report.outcome = ProbeOutcome::kRestored;
    report.reason = "recovered from the agent's " + std::string(kAppProbersEnvName) +
                    " (no recorded original; a named port comes back as its number)";
  } else {
    report.outcome = ProbeOutcome::kInvalid;
    report.reason = kUnknownOriginal;
  }
  auto action = action_of(handler, slot);
  report.action = std::holds_alternative<std::string>(action) ? std::get<std::string>(action) : "";
  report.after = shorten(handler);
}

// Every probe that points at the agent, or that the record knows, in pod order; a recorded
// probe that no longer points at the agent was changed by someone else and is kept.
void restore_probes(json& pod_template, const std::vector<ContainerRef>& refs,
                    const std::optional<Record>& record, const AgentTraces& agent,
                    RewriteResult& result) {
  std::set<std::string> restored_containers;
  for (const auto& ref : refs) {
    if (ref.agent) continue;
    json& container = container_at(pod_template, ref);
    const json* originals = record ? find_member(record->probes, ref.name) : nullptr;
    if (originals) restored_containers.insert(ref.name);
    for (const auto& slot : kSlotFields) {
      json* handler = slot_value(container, slot);
      const json* original = originals ? find_member(*originals, record_key(slot.slot)) : nullptr;
      const bool at_agent =
          handler != nullptr && points_at_agent(*handler, ref.name, slot.slot, agent.ports);
      if (!at_agent && original == nullptr) continue;
      ProbeReport report = report_for(ref, slot);
      if (at_agent) {
        restore_probe(*handler, slot, prober_path(ref.name, slot.slot), original, agent, report);
      } else {
        report.outcome = ProbeOutcome::kUserChanged;
        report.reason = handler != nullptr ? "changed since meshprobe rewrote it; kept as it is"
                                           : "removed since meshprobe rewrote it; kept removed";
      }
      result.probes.push_back(std::move(report));
    }
  }
  if (!record) return;
  for (const auto& [name, _] : record->probes.items()) {
    if (!restored_containers.count(name)) {
      result.notes.push_back("container \"" + name +
                             "\" no longer exists; its recorded probes were dropped");
    }
  }
}

// Takes the agent container out (last position first, so that indexes stay valid), and an
// initContainers list that leaves empty; true when there was one.
bool remove_agent(json& pod_template, const std::vector<ContainerRef>& refs,
                  const std::optional<Record>& record) {
  bool removed = false;
  for (auto ref = refs.rbegin(); ref != refs.rend(); ++ref) {
    if (!ref->agent) continue;
    json& list = pod_template["spec"][ref->list];
    list.erase(list.begin() + static_cast<std::ptrdiff_t>(ref->index));
    removed = true;
    erase_if_emptied(pod_template["spec"], ref->list, record, /*was_empty=*/false);
  }
  return removed;
}

// excludeInboundPorts and the record annotation as before the rewrite, and whatever that
// leaves empty. `removed_agent_port`: the port of an agent container taken out just now.
void restore_metadata(json& pod_template, const std::optional<Record>& record,
                      std::optional<int> removed_agent_port) {
  json* metadata = find_member(pod_template, "metadata");
  if (metadata == nullptr || !metadata->is_object()) return;
  const bool metadata_was_empty = metadata->empty();
  if (json* annotations = find_member(*metadata, "annotations"); annotations != nullptr) {
    const bool annotations_were_empty = annotations->empty();
    restore_excluded_ports(*annotations, record, removed_agent_port);
    annotations->erase(std::string(kOriginalProbesAnnotation));
    erase_if_emptied(*metadata, "annotations", record, annotations_were_empty);
  }
  erase_if_emptied(pod_template, "metadata", record, metadata_was_empty);
}

}  // namespace

std::string_view outcome_name(ProbeOutcome outcome) {
  switch (outcome) {
    case ProbeOutcome::kRewritten:
      return "rewritten";
    case ProbeOutcome::kNotRewritable:
      return "not rewritable";
    case ProbeOutcome::kExcludedByPolicy:
      return "excluded by policy";
    case ProbeOutcome::kNotRequired:
      return "not required";
    case ProbeOutcome::kInvalid:
      return "invalid";
    case ProbeOutcome::kMalformed:
      return "malformed";
    case ProbeOutcome::kRestored:
      return "restored";
    case ProbeOutcome::kUserChanged:
      return "changed by someone else";
    case ProbeOutcome::kLeftToIstio:
      return "left to Istio";
  }
  return "rewritten";
}

int RewriteResult::count(ProbeOutcome outcome) const {
  return static_cast<int>(
      std::count_if(probes.begin(), probes.end(),
                    [outcome](const ProbeReport& report) { return report.outcome == outcome; }));
}

Result<RewriteResult> restore(const json& pod_template, int agent_port) {
  auto refs = containers_of(pod_template);
  if (!refs) return refs.error();
  RewriteResult result;
  result.pod_template = pod_template;
  json& out = result.pod_template;
  const auto record = read_record(out, result.notes);

  const AgentTraces agent = read_agent(out, *refs, record, agent_port, result.notes);
  restore_probes(out, *refs, record, agent, result);
  const bool removed_agent = remove_agent(out, *refs, record);
  release_istio_hold(out);
  restore_metadata(out, record, removed_agent ? agent.port : std::nullopt);
  result.changed = out != pod_template;
  return result;
}

Result<RewriteResult> rewrite(const json& pod_template, const AgentConfig& agent,
                              const RewriteScope& scope) {
  auto restored = restore(pod_template, agent.port);
  if (!restored) return restored.error();
  json existing_agent = json::object();
  const auto input_refs = containers_of(pod_template);  // valid: restore() succeeded
  for (const auto& ref : *input_refs) {
    if (ref.agent) existing_agent = pod_template["spec"][ref.list][ref.index];
  }
  RewriteResult result;
  result.notes = std::move(restored->notes);
  json out = std::move(restored->pod_template);
  auto refs = containers_of(out);
  if (!refs) return refs.error();  // cannot happen: restore() only removes the agent

  const json metadata = find_member(out, "metadata") ? out["metadata"] : json::object();
  const IstioSidecar istio = istio_sidecar_of(out);
  const Judge judge{agent, scope, metadata, out["spec"], port_owner(out, *refs, agent.port), istio};
  Record record;
  record.agent_port = agent.port;
  for (const auto& ref : *refs) {
    if (!ref.in_scope) continue;
    json& container = container_at(out, ref);
    for (const auto& slot : kSlotFields) {
      json* handler = slot_value(container, slot);
      if (handler == nullptr) continue;
      auto verdict = judge(*handler, container, ref, slot);
      if (verdict.prober) {
        const std::string path = prober_path(ref.name, slot.slot);
        result.app_probers.emplace(path, std::move(*verdict.prober));
        record.probes[ref.name][record_key(slot.slot)] = *handler;
        *handler = rewritten_handler(*handler, path, agent.port, slot.lifecycle);
      }
      result.probes.push_back(std::move(verdict.report));
    }
  }

  if (!result.app_probers.empty()) {
    json& spec = out["spec"];
    record.note_original(spec, "initContainers");
    if (!spec.contains("initContainers") || !spec["initContainers"].is_array()) {
      spec["initContainers"] = json::array();
    }
    spec["initContainers"].insert(
        spec["initContainers"].begin(),
        merged_over(existing_agent, agent_container(agent, result.app_probers)));
    json& annotations =
        ensure_object(ensure_object(out, "metadata", record), "annotations", record);
    const std::string exclude_key(kExcludeInboundPortsAnnotation);
    record.exclude_inbound_ports = string_member(annotations, exclude_key);
    annotations[exclude_key] = port_list_with(record.exclude_inbound_ports, agent.port);
    annotations[std::string(kOriginalProbesAnnotation)] = record.to_json().dump();
  }
  result.pod_template = std::move(out);
  result.changed = result.pod_template != pod_template;
  return result;
}

bool is_rewritten(const json& pod_template, int agent_port) {
  auto refs = containers_of(pod_template);
  if (!refs) return false;
  const json* metadata = find_member(pod_template, "metadata");
  if (metadata != nullptr && annotation(*metadata, kOriginalProbesAnnotation)) return true;
  const std::set<int> agent_ports{agent_port};
  for (const auto& ref : *refs) {
    if (ref.agent) return true;
    const json& container = pod_template["spec"][ref.list][ref.index];
    for (const auto& slot : kSlotFields) {
      const json* handler = slot_value(container, slot);
      if (handler != nullptr && points_at_agent(*handler, ref.name, slot.slot, agent_ports))
        return true;
    }
  }
  return false;
}

}  // namespace meshprobe::probe
