#include "cmd/yaml_json.h"

#include <gtest/gtest.h>

#include <cmath>

namespace meshprobe::cmd {
namespace {

using nlohmann::json;

json from_yaml(const std::string& text) {
  auto converted = yaml_to_json(YAML::Load(text));
  EXPECT_TRUE(converted.ok()) << (converted.ok() ? "" : converted.error().message);
  return converted.ok() ? *converted : json();
}

TEST(ResolvePlainScalar, TypesLikeKubectl) {
  const std::vector<std::pair<std::string, json>> cases = {
      {"", nullptr},
      {"~", nullptr},
      {"null", nullptr},
      {"NULL", nullptr},
      {"true", true},
      {"True", true},
      {"yes", true},
      {"on", true},
      {"y", true},
      {"Y", true},
      {"false", false},
      {"no", false},
      {"Off", false},
      {"n", false},
      {"8001", 8001},
      {"-5", -5},
      {"+7", 7},
      {"0", 0},
      {"0x1F", 31},
      {"0o17", 15},
      {"0755", 493},
      {"0b101", 5},
      {"1_000", 1000},
      {"9223372036854775807", 9223372036854775807LL},
      {"18446744073709551615", 18446744073709551615ULL},
      {"1.10", 1.1},
      {"1e3", 1000.0},
      {".5", 0.5},
      {"08", 8.0},
      {"-1.5e-2", -0.015},
      {"1.10.0", "1.10.0"},
      {"v1", "v1"},
      {"10m", "10m"},
      {"1:20", "1:20"},
      {"2001-12-14", "2001-12-14"},
      {"0x", "0x"},
      {"-", "-"},
      {".", "."},
      {"truex", "truex"},
      {"1e400", "1e400"},
      {"+-1", "+-1"},
  };
  for (const auto& [text, expected] : cases) {
    const json resolved = resolve_plain_scalar(text);
    EXPECT_EQ(resolved, expected) << "\"" << text << "\" -> " << resolved.dump();
    EXPECT_EQ(resolved.type(), expected.type()) << text;
  }
  EXPECT_TRUE(std::isinf(resolve_plain_scalar(".inf").get<double>()));
  EXPECT_TRUE(std::isnan(resolve_plain_scalar(".NaN").get<double>()));
}

TEST(YamlToJson, QuotedAndBlockScalarsAreStrings) {
  const json converted = from_yaml(
      "a: \"true\"\nb: '8001'\nc: \"1.10\"\nd: |\n  line\ne: >-\n  folded\n  text\nf: !!str 12\ng: "
      "!!int \"12\"\n"
      "h: 1.10\ni: 8001\nj:\nk: [1, \"2\", x]\n");
  EXPECT_EQ(
      converted,
      json::parse(R"({"a":"true","b":"8001","c":"1.10","d":"line\n","e":"folded text","f":"12",
                                       "g":12,"h":1.1,"i":8001,"j":null,"k":[1,"2","x"]})"));
}

TEST(YamlToJson, ErrorsNameThePath) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"metadata:\n  labels:\n    app: a\n    app: b\n", "metadata.labels: duplicate key \"app\""},
      {"base: &b {x: 1}\nspec:\n  <<: *b\n",
       "spec: YAML merge keys (<<) are not supported; write the fields out"},
      {"spec:\n  items:\n  - !!int abc\n", "spec.items[0]: \"abc\" is not a valid !!int"},
      {"x: !custom 1\n", "x: the YAML tag !custom is not supported"},
      {"? [a]\n: 1\n", "the document: a mapping key must be a scalar, got a list"},
      // Found by cmd_inject_fuzzer: such bytes reached nlohmann::json, which throws when writing
      // them.
      {"a:\n  b: \"x\xff\"\n", "a.b: not valid UTF-8 text"},
      {"a: [\"\xed\xa0\x80\"]\n", "a[0]: not valid UTF-8 text"},         // a UTF-16 surrogate
      {"a:\n  \"k\xc0\xaf\": 1\n", "a: a key is not valid UTF-8 text"},  // an overlong '/'
  };
  for (const auto& [text, error] : cases) {
    auto converted = yaml_to_json(YAML::Load(text));
    ASSERT_FALSE(converted.ok()) << text;
    EXPECT_EQ(converted.error().message, error);
  }
}

TEST(YamlToJson, ValidUtf8OfEveryLengthIsKept) {
  EXPECT_EQ(from_yaml("a: \"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"\n")["a"],
            "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
}

TEST(JsonToYaml, EveryValueReadsBackAsItself) {
  const json value = json::parse(R"({
    "strings": ["true", "yes", "y", "null", "~", "", "8001", "1.10", "0x1F", "1e3", "-1", ".5", "+", "-", "2001-12-14",
                "a: b", "# no comment", "- x", "  padded  ", "tab\there", "quote \" and ' both", "ünïcödé", "@at", "`tick",
                "line\n", "two\nlines\n", "no trailing\nnewline", "trailing blank\n\n", " lead\n", "trailing space \nx\n",
                "{flow}", "[flow]", "*alias", "&anchor", "!tag", "%directive", "key:", "?"],
    "numbers": [0, -7, 8001, 9223372036854775807, 18446744073709551615, 1.5, 1.0, -0.015, 1e20],
    "booleans": [true, false],
    "nothing": null,
    "empty": {"map": {}, "list": []},
    "nested": [[1, [2]], {"a": [{"b": {}}]}]
  })");
  const std::string text = json_to_yaml(value);
  EXPECT_EQ(from_yaml(text), value) << text;
}

TEST(JsonToYaml, KeysFollowTheHintThenNameThenSorted) {
  const YAML::Node hint = YAML::Load("zeta: 1\nalpha:\n  - b: 1\n    a: 2\n");
  const json value =
      json::parse(R"({"alpha":[{"a":2,"b":1,"new":3},{"z":1,"name":"x"}],"beta":1,"zeta":1})");
  EXPECT_EQ(json_to_yaml(value, hint),
            "zeta: 1\nalpha:\n  - b: 1\n    a: 2\n    new: 3\n  - name: x\n    z: 1\nbeta: 1\n");
}

TEST(JsonToYaml, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(json_to_yaml(json::parse(R"({"a":"true","b":"8001","c":"web","d":8001,"e":"1.10"})")),
            "a: \"true\"\nb: \"8001\"\nc: web\nd: 8001\ne: \"1.10\"\n");
}

// YAML limits an implicit key to 1024 characters (found by cmd_inject_fuzzer: inject wrote a
// long key that no reader accepts, and then aborted reading its own output back).
TEST(JsonToYaml, KeysLongerThanYamlAllowsInlineAreWrittenExplicitly) {
  const std::string long_key(1100, 'k');
  const std::string escaped_key(120, '\x01');  // 120 characters, each written as \x01
  const json object = {{long_key, "v"}, {"short", {{escaped_key, json::array({1})}, {"x", 1}}}};
  const std::string yaml = json_to_yaml(object);
  EXPECT_NE(yaml.find("? "), std::string::npos);
  auto reread = yaml_to_json(YAML::Load(yaml));
  ASSERT_TRUE(reread) << reread.error().message;
  EXPECT_EQ(*reread, object);
  // Ordinary keys stay implicit.
  EXPECT_EQ(json_to_yaml(json{{std::string(200, 'a'), 1}}), std::string(200, 'a') + ": 1\n");
}

}  // namespace
}  // namespace meshprobe::cmd
