#include "probe/label_selector.h"

#include <gtest/gtest.h>

#include "probe/port_list.h"

namespace meshprobe::probe {
namespace {

using nlohmann::json;

TEST(LabelSelector, MatchesLikeKubernetes) {
  struct Case {
    json selector;
    Labels labels;
    bool matches;
  };
  const Labels web = {{"app", "web"}, {"tier", "front"}};
  const std::vector<Case> cases = {
      {json::object(), web, true},
      {{{"matchLabels", {{"app", "web"}}}}, web, true},
      {{{"matchLabels", {{"app", "api"}}}}, web, false},
      {{{"matchLabels", {{"app", "web"}, {"zone", "a"}}}}, web, false},
      {{{"matchExpressions",
         {{{"key", "tier"}, {"operator", "In"}, {"values", {"front", "back"}}}}}},
       web,
       true},
      {{{"matchExpressions", {{{"key", "tier"}, {"operator", "NotIn"}, {"values", {"front"}}}}}},
       web,
       false},
      {{{"matchExpressions", {{{"key", "zone"}, {"operator", "NotIn"}, {"values", {"a"}}}}}},
       web,
       true},
      {{{"matchExpressions", {{{"key", "app"}, {"operator", "Exists"}}}}}, web, true},
      {{{"matchExpressions", {{{"key", "zone"}, {"operator", "Exists"}}}}}, web, false},
      {{{"matchExpressions", {{{"key", "zone"}, {"operator", "DoesNotExist"}}}}}, web, true},
      {{{"matchLabels", {{"app", "web"}}},
        {"matchExpressions", {{{"key", "tier"}, {"operator", "DoesNotExist"}}}}},
       web,
       false},
  };
  for (const auto& test : cases) {
    auto selector = parse_label_selector(test.selector, "selector");
    ASSERT_TRUE(selector.ok()) << selector.error().message;
    EXPECT_EQ(selector->matches(test.labels), test.matches) << test.selector.dump();
  }
}

TEST(LabelSelector, Errors) {
  const std::vector<std::pair<json, std::string>> cases = {
      {"x", "s: must be an object"},
      {{{"matchLabel", json::object()}}, "s.matchLabel: is not a field of a label selector"},
      {{{"matchExpressions", {{{"operator", "Exists"}}}}},
       "s.matchExpressions[0].key: must be a non-empty string"},
      {{{"matchExpressions", {{{"key", "a"}, {"operator", "Exists"}, {"values", {"x"}}}}}},
       "s.matchExpressions[0].values: must be empty for operator Exists"},
      {{{"matchExpressions", {{{"key", "a"}, {"operator", "In"}, {"values", {1}}}}}},
       "s.matchExpressions[0].values: must be a list of strings, got 1"},
  };
  for (const auto& [selector, error] : cases) {
    auto parsed = parse_label_selector(selector, "s");
    ASSERT_FALSE(parsed.ok()) << selector.dump();
    EXPECT_EQ(parsed.error().message, error);
  }
}

TEST(LabelsOf, SkipsWhatIsNotAString) {
  EXPECT_EQ(labels_of({{"labels", {{"a", "1"}, {"b", 2}}}}), (Labels{{"a", "1"}}));
  EXPECT_TRUE(labels_of(json()).empty());
  EXPECT_TRUE(labels_of({{"labels", "x"}}).empty());
}

TEST(PortList, ContainsWithWithout) {
  EXPECT_TRUE(port_list_contains("80, 15120 ,9", 15120));
  EXPECT_FALSE(port_list_contains("151200", 15120));
  EXPECT_EQ(port_list_with(std::nullopt, 1), "1");
  EXPECT_EQ(port_list_with(" ", 1), "1");
  EXPECT_EQ(port_list_with("80", 1), "80,1");
  EXPECT_EQ(port_list_with("1,80", 1), "1,80");
  EXPECT_EQ(port_list_without("80,1, 9", 1), "80, 9");
  EXPECT_EQ(port_list_without("1", 1), "");
  EXPECT_EQ(port_list_without("x,1", 1), "x");
}

}  // namespace
}  // namespace meshprobe::probe
