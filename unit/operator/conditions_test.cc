#include "operator/conditions.h"

#include <gtest/gtest.h>

namespace meshprobe::controller {
namespace {

using nlohmann::json;

const Condition kRewritten{
    "HealthProbesRewritten", "True", "Rewritten", "liveness of web rewritten", {}};

TEST(Conditions, NewConditionGetsBothTimes) {
  auto entry = condition_to_write(json::array(), kRewritten, ConditionShape::kDeployment, "T1");
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ((*entry)["type"], "HealthProbesRewritten");
  EXPECT_EQ((*entry)["status"], "True");
  EXPECT_EQ((*entry)["lastTransitionTime"], "T1");
  EXPECT_EQ((*entry)["lastUpdateTime"], "T1");
  EXPECT_FALSE(entry->contains("observedGeneration"));
}

TEST(Conditions, NothingToWriteWhenNothingChanged) {
  auto first = condition_to_write(json(nullptr), kRewritten, ConditionShape::kDeployment, "T1");
  json conditions = json::array({{{"type", "Available"}, {"status", "True"}}, *first});
  EXPECT_FALSE(condition_to_write(conditions, kRewritten, ConditionShape::kDeployment, "T2"));
}

TEST(Conditions, TransitionTimeMovesOnlyWhenStatusMoves) {
  json conditions = json::array(
      {*condition_to_write(json::array(), kRewritten, ConditionShape::kDeployment, "T1")});
  Condition new_message = kRewritten;
  new_message.message = "liveness and readiness of web rewritten";
  auto updated = condition_to_write(conditions, new_message, ConditionShape::kDeployment, "T2");
  ASSERT_TRUE(updated.has_value());
  EXPECT_EQ((*updated)["lastTransitionTime"], "T1");
  EXPECT_EQ((*updated)["lastUpdateTime"], "T2");

  Condition restored{"HealthProbesRewritten", "False", "DisabledGlobally", "restored", {}};
  auto transitioned = condition_to_write(conditions, restored, ConditionShape::kDeployment, "T3");
  ASSERT_TRUE(transitioned.has_value());
  EXPECT_EQ((*transitioned)["lastTransitionTime"], "T3");
}

TEST(Conditions, Metav1ShapeTracksObservedGeneration) {
  Condition accepted{"Accepted", "True", "Accepted", "in effect", 1};
  auto first = condition_to_write(json::array(), accepted, ConditionShape::kMetav1, "T1");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ((*first)["observedGeneration"], 1);
  EXPECT_FALSE(first->contains("lastUpdateTime"));
  json conditions = json::array({*first});
  EXPECT_FALSE(condition_to_write(conditions, accepted, ConditionShape::kMetav1, "T2"));
  accepted.observed_generation = 2;
  auto second = condition_to_write(conditions, accepted, ConditionShape::kMetav1, "T2");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ((*second)["observedGeneration"], 2);
  EXPECT_EQ((*second)["lastTransitionTime"], "T1");
}

TEST(Conditions, FindIgnoresMalformedEntries) {
  json conditions = json::array({1, "x", {{"type", "A"}}, {{"type", "B"}}});
  ASSERT_NE(find_condition(conditions, "B"), nullptr);
  EXPECT_EQ(find_condition(conditions, "C"), nullptr);
  EXPECT_EQ(find_condition(json::object(), "A"), nullptr);
}

}  // namespace
}  // namespace meshprobe::controller
