#include "probe/condition.h"

#include <gtest/gtest.h>

namespace meshprobe::probe {
namespace {

using nlohmann::json;

const AgentConfig kAgent{"agent:1", kDefaultAgentPort};

Decision decision_by(DecisionSource source, bool rewrite, std::string message) {
  Decision decision;
  decision.source = source;
  decision.rewrite = rewrite;
  decision.message = std::move(message);
  return decision;
}

json pod_template(const json& probes) {
  json container = {{"name", "web"}, {"ports", {{{"name", "http"}, {"containerPort", 8080}}}}};
  container.update(probes);
  return {{"spec", {{"containers", {container}}}}};
}

TEST(Summarize, Rewritten) {
  auto result =
      rewrite(pod_template({{"livenessProbe", {{"httpGet", {{"path", "/foo"}, {"port", 8001}}}}},
                            {"readinessProbe", {{"exec", {{"command", {"true"}}}}}}}),
              kAgent);
  auto summary =
      summarize(decision_by(DecisionSource::kGlobalToggle, true, "the global setting X"), *result);
  EXPECT_TRUE(summary.status);
  EXPECT_EQ(summary.reason, ConditionReason::kRewritten);
  EXPECT_EQ(
      summary.message,
      "1 probe rewritten to the meshprobe agent: container web liveness (httpGet :8001/foo -> "
      "httpGet :15120/app-health/web/livez). Decided by the global setting X.");
}

TEST(Summarize, InvalidWinsOverRewrittenButStatusStaysTrue) {
  auto result = rewrite(pod_template({{"livenessProbe", {{"httpGet", {{"port", 8080}}}}},
                                      {"readinessProbe", {{"tcpSocket", {{"port", "nope"}}}}}}),
                        kAgent);
  auto summary = summarize(decision_by(DecisionSource::kGlobalToggle, true, "g"), *result);
  EXPECT_TRUE(summary.status);
  EXPECT_EQ(summary.reason, ConditionReason::kInvalidProbe);
  EXPECT_NE(summary.message.find(
                "1 probe cannot be rewritten, left as is: container web readiness (tcpSocket "
                "{\"port\":\"nope\"}: "
                "named port \"nope\" is not declared in the ports of container \"web\")"),
            std::string::npos)
      << summary.message;
}

TEST(Summarize, ReasonsWhenNothingIsRewritten) {
  RewriteScope startup_only;
  startup_only.families = {ProbeFamily::kStartup};
  startup_only.origin = "HealthProbePolicy shop/p";
  RewriteScope when_required;
  when_required.when_required = WhenRequired{};
  struct Case {
    json probes;
    RewriteScope scope;
    ConditionReason reason;
  };
  const std::vector<Case> cases = {
      {{{"livenessProbe", {{"exec", {{"command", {"true"}}}}}}},
       {},
       ConditionReason::kNoRewritableProbes},
      {json::object(), {}, ConditionReason::kNoRewritableProbes},
      {{{"livenessProbe", {{"httpGet", {{"port", 8080}}}}}},
       startup_only,
       ConditionReason::kDisabledByPolicy},
      {{{"livenessProbe", {{"httpGet", {{"port", 8080}}}}}},
       when_required,
       ConditionReason::kNotRequired},
  };
  for (const auto& test : cases) {
    auto result = rewrite(pod_template(test.probes), kAgent, test.scope);
    ASSERT_TRUE(result.ok());
    auto summary =
        summarize(decision_by(DecisionSource::kPolicy, true, "HealthProbePolicy shop/p"), *result);
    EXPECT_FALSE(summary.status);
    EXPECT_EQ(summary.reason, test.reason) << summary.message;
  }
}

TEST(Summarize, DisabledReasonsFollowTheDecisionSource) {
  const json original = pod_template({{"livenessProbe", {{"httpGet", {{"port", 8080}}}}}});
  auto back = restore(rewrite(original, kAgent)->pod_template);
  ASSERT_TRUE(back.ok());
  const std::vector<std::pair<DecisionSource, ConditionReason>> cases = {
      {DecisionSource::kTemplateAnnotation, ConditionReason::kDisabledByAnnotation},
      {DecisionSource::kPolicy, ConditionReason::kDisabledByPolicy},
      {DecisionSource::kGlobalToggle, ConditionReason::kDisabledGlobally},
  };
  for (const auto& [source, reason] : cases) {
    auto summary = summarize(decision_by(source, false, "X"), *back);
    EXPECT_FALSE(summary.status);
    EXPECT_EQ(summary.reason, reason);
    EXPECT_EQ(summary.message,
              "Rewriting is off by X. Restored 1 probe: container web liveness (the recorded "
              "original is back).");
  }
}

TEST(Summarize, NotesAreIncludedAndTheMessageIsBounded) {
  json containers = json::array();
  for (int i = 0; i < 200; ++i) {
    containers.push_back({{"name", "container-" + std::to_string(i)},
                          {"livenessProbe", {{"httpGet", {{"port", 8080}}}}}});
  }
  auto result = rewrite({{"spec", {{"containers", containers}}}}, kAgent);
  Decision decision = decision_by(DecisionSource::kGlobalToggle, true, "g");
  decision.notes.push_back("something was ignored");
  auto summary = summarize(decision, *result);
  EXPECT_LE(summary.message.size(), kMaxConditionMessage);
  EXPECT_NE(summary.message.find(" more)"), std::string::npos);
  EXPECT_EQ(summarize(decision, *result), summary);  // stable
  auto small = rewrite(pod_template({{"livenessProbe", {{"httpGet", {{"port", 8080}}}}}}), kAgent);
  EXPECT_NE(summarize(decision, *small).message.find("Note: something was ignored"),
            std::string::npos);
}

TEST(ConditionReasonName, MatchesTheDesign) {
  EXPECT_EQ(condition_reason_name(ConditionReason::kRewritten), "Rewritten");
  EXPECT_EQ(condition_reason_name(ConditionReason::kDisabledByAnnotation), "DisabledByAnnotation");
  EXPECT_EQ(condition_reason_name(ConditionReason::kDisabledByPolicy), "DisabledByPolicy");
  EXPECT_EQ(condition_reason_name(ConditionReason::kDisabledGlobally), "DisabledGlobally");
  EXPECT_EQ(condition_reason_name(ConditionReason::kNotRequired), "NotRequired");
  EXPECT_EQ(condition_reason_name(ConditionReason::kNoRewritableProbes), "NoRewritableProbes");
  EXPECT_EQ(condition_reason_name(ConditionReason::kInvalidProbe), "InvalidProbe");
  EXPECT_EQ(condition_reason_name(ConditionReason::kConflictingWriter), "ConflictingWriter");
}

}  // namespace
}  // namespace meshprobe::probe
