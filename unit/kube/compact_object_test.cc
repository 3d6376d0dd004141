#include "kube/compact_object.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <thread>

namespace meshprobe::kube {
namespace {

using nlohmann::json;

json pod_template(const std::string& app) {
  return {{"metadata", {{"labels", {{"app", app}}}}},
          {"spec",
           {{"containers",
             {{{"name", app},
               {"image", "example.com/" + app + ":1"},
               {"ports", {{{"containerPort", 8080}, {"protocol", "TCP"}}}},
               {"livenessProbe",
                {{"httpGet", {{"path", "/healthz"}, {"port", 8080}}}, {"periodSeconds", 10}}},
               {"terminationMessagePath", "/dev/termination-log"}}}},
            {"dnsPolicy", "ClusterFirst"},
            {"terminationGracePeriodSeconds", 30}}}};
}

std::string packed(const json& object) {
  const auto bytes = json::to_msgpack(object);
  return {bytes.begin(), bytes.end()};
}

TEST(CompactObject, DecodesToWhatWasEncoded) {
  const json object = pod_template("web");
  EXPECT_EQ(CompactObject::encode(object).decode(), object);
  const CompressionDictionary dictionary(packed(pod_template("shop")));
  EXPECT_EQ(CompactObject::encode(object, &dictionary).decode(), object);
  // Every JSON type MessagePack carries, unsigned and negative numbers and doubles included.
  const json kinds = {
      {"s", "x"},  {"n", -5},      {"u", 18446744073709551615u}, {"d", 0.25},
      {"b", true}, {"z", nullptr}, {"a", json::array()},         {"o", json::object()}};
  EXPECT_EQ(CompactObject::encode(kinds, &dictionary).decode(), kinds);
}

TEST(CompactObject, NullAndDefaultDecodeToNull) {
  EXPECT_TRUE(CompactObject().decode().is_null());
  EXPECT_TRUE(CompactObject::encode(nullptr).decode().is_null());
  EXPECT_EQ(CompactObject::encode(nullptr).size(), 0u);
}

TEST(CompactObject, CopiesAndMovesKeepTheObject) {
  const CompactObject original = CompactObject::encode(pod_template("web"));
  CompactObject copy = original;
  CompactObject assigned;
  assigned = copy;
  const CompactObject moved = std::move(copy);
  EXPECT_EQ(assigned.decode(), pod_template("web"));
  EXPECT_EQ(moved.decode(), pod_template("web"));
  EXPECT_EQ(original.decode(), pod_template("web"));
  EXPECT_EQ(moved.size(), original.size());
  EXPECT_EQ(sizeof(CompactObject), 24u);  // a cache keeps one or two per object
}

TEST(CompactObject, ADictionaryOfTheKindMakesItSmaller) {
  const json object = pod_template("web");
  const CompressionDictionary dictionary(packed(pod_template("shop")));
  const auto plain = CompactObject::encode(object);
  const auto with_dictionary = CompactObject::encode(object, &dictionary);
  EXPECT_LT(plain.size(), packed(object).size());
  EXPECT_LT(with_dictionary.size(), plain.size() / 2);
}

TEST(CompactObject, EncodesAndDecodesOnManyThreadsAtOnce) {
  const CompressionDictionary dictionary(packed(pod_template("shop")));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const json object = pod_template("app-" + std::to_string(t) + "-" + std::to_string(i));
        if (CompactObject::encode(object, &dictionary).decode() != object) ++mismatches[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST(CompressionDictionary, RefusesMoreThanTheCompressorReaches) {
  EXPECT_NO_THROW(CompressionDictionary(std::string(8192, 'x')));
  EXPECT_THROW(CompressionDictionary(std::string(8193, 'x')), std::invalid_argument);
}

}  // namespace
}  // namespace meshprobe::kube
