// Properties of rewrite() and restore() over generated pod templates: a seeded generator
// covers every slot, action, port form, host, scope and the edits users make afterwards.
#include <gtest/gtest.h>

#include <random>

#include "probe/decision.h"
#include "probe/istio_hold.h"
#include "probe/names.h"
#include "probe/rewrite.h"

namespace meshprobe::probe {
namespace {

using nlohmann::json;

constexpr int kCases = 600;
const AgentConfig kAgent{"registry.example/meshprobe-agent:1.0", kDefaultAgentPort};

class TemplateGenerator {
 public:
  explicit TemplateGenerator(std::uint32_t seed) : random_(seed) {}

  json pod_template() {
    json pod_template = json::object();
    if (chance(0.9)) {
      json metadata = {{"labels", {{"app", pick({"web", "api", "db"})}}}};
      if (chance(0.6))
        metadata["annotations"] = annotations();
      else if (chance(0.1))
        metadata["annotations"] = nullptr;  // `annotations:` and nothing under it
      pod_template["metadata"] = std::move(metadata);
    } else if (chance(0.2)) {
      pod_template["metadata"] = nullptr;
    }
    json spec = json::object();
    if (chance(0.3)) spec["terminationGracePeriodSeconds"] = number(0, 120);
    names_ = {"web", "api", "proxy", "worker", "log", "cache", "db"};
    std::shuffle(names_.begin(), names_.end(), random_);
    next_name_ = 0;
    if (chance(0.4)) {
      json init = json::array();
      for (int i = number(0, 2); i >= 0; --i) init.push_back(container(chance(0.6)));
      spec["initContainers"] = std::move(init);
    } else if (chance(0.1)) {
      spec["initContainers"] = json::array();
    } else if (chance(0.1)) {
      spec["initContainers"] = nullptr;
    }
    json containers = json::array();
    for (int i = number(1, 3); i > 0; --i) containers.push_back(container(false));
    spec["containers"] = std::move(containers);
    pod_template["spec"] = std::move(spec);
    return pod_template;
  }

  RewriteScope scope() {
    RewriteScope scope;
    scope.origin = "HealthProbePolicy test/generated";
    if (chance(0.5)) return scope;
    scope.families.clear();
    for (auto family : kAllProbeFamilies) {
      if (chance(0.6)) scope.families.insert(family);
    }
    scope.protocols.clear();
    for (auto protocol : kAllProbeProtocols) {
      if (chance(0.6)) scope.protocols.insert(protocol);
    }
    if (chance(0.5)) {
      WhenRequired when_required;
      when_required.mesh = {chance(0.5), "generated"};
      when_required.mtls.workload = {chance(0.5) ? MtlsMode::kStrict : MtlsMode::kPermissive,
                                     "generated"};
      if (chance(0.5)) when_required.mtls.per_port[8080] = {MtlsMode::kStrict, "generated port"};
      scope.when_required = std::move(when_required);
    }
    return scope;
  }

  // What other writers do to a template without touching anything of meshprobe's: kubectl
  // apply and rollout restart add annotations, the Job controller adds labels, CI bumps images.
  json unrelated_edit(json pod_template) {
    switch (number(0, 3)) {
      case 0:
        pod_template["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] =
            "2026-01-01T00:00:00Z";
        break;
      case 1:
        pod_template["metadata"]["labels"]["job-name"] = "web";
        break;
      case 2:
        pod_template["spec"]["containers"][0]["image"] = "example/app:2";
        break;
      case 3:
        pod_template["spec"]["terminationGracePeriodSeconds"] = number(1, 90);
        break;
    }
    return pod_template;
  }

  // What users and GitOps tools do to a rewritten template.
  json edited(json pod_template) {
    json& spec = pod_template["spec"];
    for (int edits = number(1, 3); edits > 0; --edits) {
      switch (number(0, 6)) {
        case 0:  // put an original-looking probe back
          for (auto& container : spec["containers"]) {
            if (container.contains("livenessProbe") && chance(0.7))
              container["livenessProbe"] = probe();
          }
          break;
        case 1:  // tune the timing of a rewritten probe
          for (auto& container : spec["containers"]) {
            if (container.contains("readinessProbe") && container["readinessProbe"].is_object()) {
              container["readinessProbe"]["periodSeconds"] = number(1, 60);
            }
          }
          break;
        case 2:  // the record annotation is lost
          if (pod_template.contains("metadata") &&
              pod_template["metadata"].contains("annotations")) {
            pod_template["metadata"]["annotations"].erase(std::string(kOriginalProbesAnnotation));
          }
          break;
        case 3:  // the agent container is deleted
          if (spec.contains("initContainers")) {
            auto& init = spec["initContainers"];
            for (std::size_t i = 0; i < init.size(); ++i) {
              if (init[i]["name"] == kAgentContainerName) {
                init.erase(i);
                break;
              }
            }
          }
          break;
        case 4:  // a container is added
          spec["containers"].push_back(container(false));
          break;
        case 5:  // someone edits the excluded ports
          pod_template["metadata"]["annotations"][std::string(kExcludeInboundPortsAnnotation)] =
              pick({"9999", "15120,9999", "", "8080, 15120"});
          break;
        case 6:  // a probe is removed
          spec["containers"][0].erase("startupProbe");
          break;
      }
    }
    return pod_template;
  }

 private:
  bool chance(double probability) { return std::bernoulli_distribution(probability)(random_); }
  int number(int low, int high) { return std::uniform_int_distribution<int>(low, high)(random_); }
  std::string pick(std::initializer_list<const char*> options) {
    return *(options.begin() + number(0, static_cast<int>(options.size()) - 1));
  }

  json annotations() {
    json annotations = json::object();
    if (chance(0.5))
      annotations[std::string(kExcludeInboundPortsAnnotation)] =
          pick({"8080", "", "9090, 8080", "15120"});
    if (chance(0.2)) annotations[std::string(kIncludeInboundPortsAnnotation)] = pick({"*", "8080"});
    if (chance(0.5)) annotations["example.com/owner"] = pick({"team-a", "true", "8001"});
    return annotations;
  }

  json port_value() {
    switch (number(0, 5)) {
      case 0:
        return "http";
      case 1:
        return pick({"grpc", "metrics", "missing"});
      case 2:
        return 8080;
      case 3:
        return chance(0.1) ? 70000 : 9090;
      default:
        return number(1, 65535);
    }
  }

  json action() {
    switch (number(0, 4)) {
      case 0:
      case 1: {
        json http = {{"port", port_value()}};
        if (chance(0.8))
          http["path"] = pick({"/", "/healthz", "/ready?full=1", "live", "/a/b%20c"});
        if (chance(0.4)) http["scheme"] = pick({"HTTP", "HTTPS"});
        if (chance(0.2)) http["host"] = pick({"localhost", "127.0.0.1", "::1", "10.1.2.3", ""});
        if (chance(0.3))
          http["httpHeaders"] = {{{"name", "X-A"}, {"value", pick({"1", "true", ""})}}};
        return {{"httpGet", std::move(http)}};
      }
      case 2: {
        json tcp = {{"port", port_value()}};
        if (chance(0.1)) tcp["host"] = pick({"localhost", "db"});
        return {{"tcpSocket", std::move(tcp)}};
      }
      case 3: {
        json grpc = {{"port", chance(0.9) ? json(number(1, 65535)) : json("grpc")}};
        if (chance(0.5)) grpc["service"] = pick({"", "health", "a.b.C"});
        return {{"grpc", std::move(grpc)}};
      }
      default:
        return {{"exec", {{"command", {"cat", "/tmp/healthy"}}}}};
    }
  }

  json probe() {
    json probe = action();
    if (chance(0.05)) probe.update(action());  // sometimes two actions: malformed
    for (const char* field :
         {"initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold"}) {
      if (chance(0.4)) probe[field] = number(0, 30);
    }
    return probe;
  }

  json handler() {
    json handler = action();
    if (handler.contains("grpc")) handler = {{"sleep", {{"seconds", 3}}}};
    return handler;
  }

  json container(bool native_sidecar) {
    // Up to 3 init containers, 3 containers and 3 added by edits: past the 7 names, numbered.
    const std::size_t n = next_name_++;
    const std::string name = n < names_.size() ? names_[n] : "extra-" + std::to_string(n);
    json container = {{"name", name}, {"image", "example/app:1"}};
    if (native_sidecar) container["restartPolicy"] = "Always";
    if (chance(0.8)) {
      json ports = json::array();
      if (chance(0.8)) ports.push_back({{"name", "http"}, {"containerPort", 8080}});
      if (chance(0.5)) ports.push_back({{"name", "grpc"}, {"containerPort", number(1, 65535)}});
      if (chance(0.03))
        ports.push_back({{"containerPort", kDefaultAgentPort}});  // collides with the agent
      container["ports"] = std::move(ports);
    }
    for (const char* slot : {"livenessProbe", "readinessProbe", "startupProbe"}) {
      if (chance(0.6)) container[slot] = probe();
    }
    if (chance(0.4)) {
      json lifecycle = json::object();
      if (chance(0.7)) lifecycle["preStop"] = handler();
      if (chance(0.5)) lifecycle["postStart"] = handler();
      container["lifecycle"] = std::move(lifecycle);
    }
    return container;
  }

  std::mt19937 random_;
  std::vector<std::string> names_;
  std::size_t next_name_ = 0;
};

json rewrite_of(const json& pod_template, const RewriteScope& scope = {}) {
  auto result = rewrite(pod_template, kAgent, scope);
  EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message) << "\n"
                           << pod_template.dump();
  return result.ok() ? result->pod_template : json();
}

json restore_of(const json& pod_template) {
  auto result = restore(pod_template, kAgent.port);
  EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message) << "\n"
                           << pod_template.dump();
  return result.ok() ? result->pod_template : json();
}

TEST(RewriteProperty, RestoreUndoesRewriteAndRewriteIsIdempotent) {
  TemplateGenerator generator(20261124);
  int rewritten_templates = 0;
  for (int i = 0; i < kCases; ++i) {
    const json original = generator.pod_template();
    const RewriteScope scope = generator.scope();
    SCOPED_TRACE("case " + std::to_string(i) + ": " + original.dump());
    ASSERT_FALSE(is_rewritten(original));
    const json once = rewrite_of(original, scope);
    rewritten_templates += once != original;
    ASSERT_EQ(restore_of(once), original);
    ASSERT_EQ(rewrite_of(once, scope), once);
    ASSERT_EQ(is_rewritten(once), once != original);
  }
  // The generator must actually exercise the rewrite, not only the pass-through.
  EXPECT_GT(rewritten_templates, kCases / 2);
}

// With Istio's per-pod hold (apply_decision): restore gives back the original exactly, applying
// again changes nothing, and the user's own sidecar.istio.io/rewriteAppHTTPProbers is what the
// decision reads before and after.
TEST(RewriteProperty, TheHoldOnIstiosRewriteIsUndoneExactlyAndSeenThrough) {
  TemplateGenerator generator(1313);
  std::mt19937 random(99);
  int held = 0;
  for (int i = 0; i < kCases; ++i) {
    json original = generator.pod_template();
    const int choice = static_cast<int>(random() % 4);
    if (choice > 0 && original.contains("metadata") && original["metadata"].is_object()) {
      original["metadata"]["annotations"][std::string(kRewriteAppProbersAnnotation)] =
          choice == 1   ? "true"
          : choice == 2 ? "True"
                        : "maybe";
    }
    Decision decision;
    decision.rewrite = random() % 3 != 0;
    decision.scope = generator.scope();
    decision.hold_when_rewritten = true;
    decision.hold_when_kept = random() % 2 == 0;
    SCOPED_TRACE("case " + std::to_string(i) + ": " + original.dump());
    auto once = apply_decision(decision, original, kAgent);
    ASSERT_TRUE(once.ok());
    held += once->held;
    ASSERT_EQ(holds_istio_rewrite(once->pod_template), once->held);
    if (once->held) {
      const json& annotations = once->pod_template["metadata"]["annotations"];
      ASSERT_EQ(annotations[std::string(kRewriteAppProbersAnnotation)], "False");
    }
    ASSERT_EQ(restore_of(once->pod_template), original);
    auto twice = apply_decision(decision, once->pod_template, kAgent);
    ASSERT_TRUE(twice.ok());
    ASSERT_EQ(twice->pod_template, once->pod_template);
    ASSERT_FALSE(twice->changed);
    auto metadata_of = [](const json& pod_template) {
      return pod_template.is_object() && pod_template.contains("metadata")
                 ? pod_template["metadata"]
                 : json();
    };
    ASSERT_EQ(user_rewrite_annotation(metadata_of(once->pod_template)),
              user_rewrite_annotation(metadata_of(original)));
  }
  EXPECT_GT(held, kCases / 3);
}

TEST(RewriteProperty, RewriteIsAFunctionOfTheRestoredViewEvenAfterEdits) {
  TemplateGenerator generator(7);
  for (int i = 0; i < kCases; ++i) {
    const json original = generator.pod_template();
    const RewriteScope scope = generator.scope();
    const json edited = generator.edited(rewrite_of(original));
    SCOPED_TRACE("case " + std::to_string(i) + ": " + edited.dump());
    const json once = rewrite_of(edited, scope);
    ASSERT_EQ(once, rewrite_of(restore_of(edited), scope));
    ASSERT_EQ(rewrite_of(once, scope), once);
    ASSERT_EQ(restore_of(restore_of(edited)), restore_of(edited));
  }
}

// A rewritten template that someone else changes without touching meshprobe's fields stays a
// fixed point: the controller does not write it again (terminationGracePeriodSeconds feeds
// the hooks' timeout, so that one edit may change the agent's configuration, nothing else).
// As the API server stores a template: nulls, empty maps and empty lists are left out
// (omitempty; json::empty() is true of null).
json as_stored(json pod_template) {
  if (pod_template.contains("metadata") && pod_template["metadata"].contains("annotations") &&
      pod_template["metadata"]["annotations"].empty()) {
    pod_template["metadata"].erase("annotations");
  }
  if (pod_template.contains("metadata") && pod_template["metadata"].empty())
    pod_template.erase("metadata");
  if (pod_template["spec"].contains("initContainers") &&
      pod_template["spec"]["initContainers"].empty()) {
    pod_template["spec"].erase("initContainers");
  }
  return pod_template;
}

// (For templates as the API server stores them: one that had an explicitly empty annotations
// map, which only a manifest file can have, gets one more write when others add to it.)
TEST(RewriteProperty, OthersEditsElsewhereKeepTheFixedPoint) {
  TemplateGenerator generator(31);
  for (int i = 0; i < kCases; ++i) {
    const json original = as_stored(generator.pod_template());
    const RewriteScope scope = generator.scope();
    const json edited = generator.unrelated_edit(rewrite_of(original, scope));
    SCOPED_TRACE("case " + std::to_string(i) + ": " + edited.dump());
    const json again = rewrite_of(edited, scope);
    json ignoring_agent = again;
    json edited_ignoring_agent = edited;
    for (json* pod_template : {&ignoring_agent, &edited_ignoring_agent}) {
      if (pod_template->contains("spec") && (*pod_template)["spec"].contains("initContainers")) {
        for (auto& container : (*pod_template)["spec"]["initContainers"]) {
          if (container["name"] == kAgentContainerName) container.erase("env");
        }
      }
    }
    ASSERT_EQ(ignoring_agent, edited_ignoring_agent);
    if (!edited["spec"].contains("terminationGracePeriodSeconds") ||
        edited["spec"]["terminationGracePeriodSeconds"] ==
            original["spec"].value("terminationGracePeriodSeconds", json())) {
      ASSERT_EQ(again, edited);
    }
  }
}

TEST(RewriteProperty, ChangingTheScopeConvergesToTheNewScope) {
  TemplateGenerator generator(99);
  for (int i = 0; i < kCases; ++i) {
    const json original = generator.pod_template();
    const RewriteScope first = generator.scope();
    const RewriteScope second = generator.scope();
    SCOPED_TRACE("case " + std::to_string(i) + ": " + original.dump());
    ASSERT_EQ(rewrite_of(rewrite_of(original, first), second), rewrite_of(original, second));
  }
}

TEST(RewriteProperty, EveryRewrittenProbeHasItsAgentEntry) {
  TemplateGenerator generator(5);
  for (int i = 0; i < kCases; ++i) {
    const json original = generator.pod_template();
    auto result = rewrite(original, kAgent, generator.scope());
    ASSERT_TRUE(result.ok());
    SCOPED_TRACE("case " + std::to_string(i) + ": " + original.dump());
    ASSERT_EQ(static_cast<int>(result->app_probers.size()),
              result->count(ProbeOutcome::kRewritten));
    for (const auto& report : result->probes) {
      if (report.outcome != ProbeOutcome::kRewritten) continue;
      ASSERT_TRUE(result->app_probers.count(prober_path(report.container, report.slot)));
    }
    if (!result->app_probers.empty()) {
      const json& agent = result->pod_template["spec"]["initContainers"][0];
      auto parsed = parse_app_probers(agent["env"][0]["value"].get<std::string>());
      ASSERT_TRUE(parsed.ok()) << parsed.error().message;
      ASSERT_EQ(*parsed, result->app_probers);
    }
  }
}

}  // namespace
}  // namespace meshprobe::probe
