#include "operator/injector_toggle.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

namespace meshprobe::controller {
namespace {

// The seed's global switch: kubectl get cm ... | sed -e 's/"rewriteAppHTTPProbe":
// true/"rewriteAppHTTPProbe": false/'
std::string seed_sed_disable(const std::string& values) {
  return std::regex_replace(values, std::regex(R"("rewriteAppHTTPProbe": true)"),
                            R"("rewriteAppHTTPProbe": false)",
                            std::regex_constants::format_first_only);
}

TEST(InjectorToggle, MissingConfigMapIsCreatedWithTheDefault) {
  for (bool default_value : {true, false}) {
    auto plan = plan_injector_values(std::nullopt, std::nullopt, default_value);
    ASSERT_TRUE(plan.values.has_value());
    EXPECT_EQ(read_injector_toggle(plan.values).rewrite, default_value);
  }
}

TEST(InjectorToggle, MeshWidePolicyValueWinsOnCreate) {
  auto plan = plan_injector_values(std::nullopt, false, true);
  ASSERT_TRUE(plan.values.has_value());
  EXPECT_EQ(read_injector_toggle(plan.values).rewrite, false);
}

TEST(InjectorToggle, WrittenSoThatTheSeedsSedExpressionMatches) {
  auto plan = plan_injector_values(std::nullopt, std::nullopt, true);
  ASSERT_TRUE(plan.values.has_value());
  EXPECT_NE(plan.values->find(R"("rewriteAppHTTPProbe": true)"), std::string::npos) << *plan.values;
  EXPECT_EQ(read_injector_toggle(seed_sed_disable(*plan.values)).rewrite, false);
}

TEST(InjectorToggle, MissingFieldIsFilledInAndNothingElseChanges) {
  const std::string values =
      R"({"zeta": {"b": 1, "a": [1, 2]}, "sidecarInjectorWebhook": {"enableNamespacesByDefault": false}, "alpha": "x"})";
  auto plan = plan_injector_values(values, std::nullopt, true);
  ASSERT_TRUE(plan.values.has_value());
  auto written = nlohmann::ordered_json::parse(*plan.values);
  EXPECT_EQ(written["sidecarInjectorWebhook"]["rewriteAppHTTPProbe"], true);
  EXPECT_EQ(written["sidecarInjectorWebhook"]["enableNamespacesByDefault"], false);
  written["sidecarInjectorWebhook"].erase("rewriteAppHTTPProbe");
  EXPECT_EQ(written, nlohmann::ordered_json::parse(values))
      << "other keys and their order are kept";
  EXPECT_EQ(written.begin().key(), "zeta");
}

TEST(InjectorToggle, MissingSectionIsAdded) {
  auto plan =
      plan_injector_values(R"({"global": {"hub": "docker.io/istio"}})", std::nullopt, false);
  ASSERT_TRUE(plan.values.has_value());
  EXPECT_EQ(read_injector_toggle(plan.values).rewrite, false);
  EXPECT_NE(plan.values->find("docker.io/istio"), std::string::npos);
}

TEST(InjectorToggle, UsersEditIsNeverRevertedWithoutAMeshWidePolicy) {
  const std::string values =
      "{\n  \"sidecarInjectorWebhook\": {\n    \"rewriteAppHTTPProbe\": false\n  }\n}";
  EXPECT_FALSE(plan_injector_values(values, std::nullopt, true).values.has_value());
}

TEST(InjectorToggle, MeshWidePolicyIsWrittenOverTheField) {
  const std::string values = R"({"sidecarInjectorWebhook": {"rewriteAppHTTPProbe": true}})";
  auto plan = plan_injector_values(values, false, true);
  ASSERT_TRUE(plan.values.has_value());
  EXPECT_EQ(read_injector_toggle(plan.values).rewrite, false);
  EXPECT_FALSE(plan_injector_values(*plan.values, false, true).values.has_value()) << "converged";
}

TEST(InjectorToggle, ValuesThatAreNotAnObjectAreLeftAloneAndReported) {
  for (const char* values : {"not json", "[1]", "\"x\""}) {
    auto plan = plan_injector_values(std::string(values), std::nullopt, true);
    EXPECT_FALSE(plan.values.has_value()) << values;
    EXPECT_NE(plan.problem.find("not a JSON object"), std::string::npos) << values;
    EXPECT_FALSE(read_injector_toggle(std::string(values)).rewrite.has_value());
  }
}

TEST(InjectorToggle, ReadsBooleansAndGoStyleBooleanStrings) {
  struct Case {
    const char* values;
    std::optional<bool> expected;
    bool problem;
  };
  const Case cases[] = {
      {R"({"sidecarInjectorWebhook": {"rewriteAppHTTPProbe": true}})", true, false},
      {R"({"sidecarInjectorWebhook": {"rewriteAppHTTPProbe": false}})", false, false},
      {R"({"sidecarInjectorWebhook": {"rewriteAppHTTPProbe": "False"}})", false, false},
      {R"({"sidecarInjectorWebhook": {"rewriteAppHTTPProbe": "1"}})", true, false},
      {R"({"sidecarInjectorWebhook": {"rewriteAppHTTPProbe": "yes"}})", std::nullopt, true},
      {R"({"sidecarInjectorWebhook": {"rewriteAppHTTPProbe": 1}})", std::nullopt, true},
      {R"({"sidecarInjectorWebhook": {}})", std::nullopt, false},
      {R"({})", std::nullopt, false},
  };
  for (const auto& c : cases) {
    auto toggle = read_injector_toggle(std::string(c.values));
    EXPECT_EQ(toggle.rewrite, c.expected) << c.values;
    EXPECT_EQ(!toggle.problem.empty(), c.problem) << c.values;
  }
  EXPECT_FALSE(read_injector_toggle(std::nullopt).rewrite.has_value());
}

}  // namespace
}  // namespace meshprobe::controller
