#include "kube/informer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "kube/fake_clock.h"
#include "kube/mocks/mock_kubernetes_api.h"
#include "kube/mocks/mock_random.h"
#include "kube/test_support.h"

namespace meshprobe::kube {
namespace {

using nlohmann::json;
using ::testing::_;
using ::testing::ByMove;
using ::testing::Field;
using ::testing::NiceMock;
using ::testing::Return;

json deployment(const std::string& ns, const std::string& name, const std::string& version,
                json labels = json::object(), int replicas = 1) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata",
           {{"namespace", ns},
            {"name", name},
            {"resourceVersion", version},
            {"labels", labels},
            {"managedFields", json::array({{{"manager", "kubectl"}}})}}},
          {"spec", {{"replicas", replicas}}}};
}

ObjectList list_of(std::string version, std::vector<json> items, std::string continue_token = "") {
  return ObjectList{std::move(version), std::move(continue_token), std::move(items)};
}

// The projection a controller might keep: the replica count, nothing else.
struct Replicas {
  int count = 0;
};
Replicas project_replicas(const json& object) { return {object["spec"].value("replicas", 0)}; }

ApiResult<std::optional<WatchEvent>> event(WatchEventType type, json object) {
  return std::optional<WatchEvent>(WatchEvent{type, std::move(object)});
}
ApiResult<std::optional<WatchEvent>> end_of_watch() { return std::optional<WatchEvent>(); }

std::unique_ptr<MockWatchStream> stream_of(
    std::vector<ApiResult<std::optional<WatchEvent>>> events) {
  auto stream = std::make_unique<NiceMock<MockWatchStream>>();
  auto sequence =
      std::make_shared<std::vector<ApiResult<std::optional<WatchEvent>>>>(std::move(events));
  auto position = std::make_shared<std::size_t>(0);
  ON_CALL(*stream, next()).WillByDefault([sequence, position] {
    return (*sequence)[std::min((*position)++, sequence->size() - 1)];
  });
  return stream;
}

MATCHER_P(WatchesFrom, version, "") { return arg.resource_version == version; }

class InformerTest : public ::testing::Test {
 protected:
  InformerTest() { ON_CALL(random_, uniform()).WillByDefault(Return(0.0)); }

  Informer<Replicas>& informer() {
    if (!informer_) {
      informer_ = std::make_unique<Informer<Replicas>>(
          "deployments", api_, fixed_resource(resources::kDeployments), project_replicas,
          ReflectorOptions{}, clock_, random_, metrics_, logger_);
      informer_->add_index("app", label_indexer<Replicas>("app"));
      informer_->add_handlers(
          {[this](auto& object) { seen_.push_back("add " + object->metadata.key()); },
           [this](auto& before, auto& after) {
             seen_.push_back("update " + after->metadata.key() + " " +
                             before->metadata.resource_version + "->" +
                             after->metadata.resource_version);
           },
           [this](auto& object) { seen_.push_back("delete " + object->metadata.key()); }});
    }
    return *informer_;
  }

  FakeClock clock_;
  NiceMock<MockRandom> random_;
  MetricsRegistry metrics_;
  RecordingLogger logger_;
  ::testing::StrictMock<MockKubernetesApi> api_;
  std::unique_ptr<Informer<Replicas>> informer_;
  std::vector<std::string> seen_;
  std::stop_source stop_;
};

TEST_F(InformerTest, ListsInPagesThenWatchesFromTheListVersionWithBookmarks) {
  EXPECT_CALL(api_, list(resources::kDeployments, "", Field(&ListOptions::continue_token, "")))
      .WillOnce(Return(list_of("10", {deployment("a", "web", "8", {{"app", "web"}})}, "page2")));
  EXPECT_CALL(api_, list(resources::kDeployments, "", Field(&ListOptions::continue_token, "page2")))
      .WillOnce(Return(list_of("10", {deployment("b", "db", "9", {{"app", "db"}})})));
  EXPECT_CALL(api_, watch(resources::kDeployments, "",
                          AllOf(WatchesFrom("10"), Field(&WatchOptions::allow_bookmarks, true),
                                Field(&WatchOptions::timeout_seconds, 300))))
      .WillOnce(Return(ByMove(WatchStreamPtr(stream_of({
          event(WatchEventType::kAdded, deployment("a", "api", "11", {{"app", "web"}})),
          event(WatchEventType::kModified, deployment("a", "web", "12", {{"app", "web"}}, 3)),
          event(WatchEventType::kBookmark, {{"metadata", {{"resourceVersion", "15"}}}}),
          event(WatchEventType::kDeleted, deployment("b", "db", "16")),
          ApiResult<std::optional<WatchEvent>>(api_error(ApiErrorKind::kGone, 410)),
      })))));
  EXPECT_FALSE(informer().has_synced());
  EXPECT_EQ(informer().reflector().list_and_watch(stop_.get_token()), Reflector::Outcome::kRelist);
  EXPECT_TRUE(informer().has_synced());
  EXPECT_EQ(seen_, (std::vector<std::string>{"add a/web", "add b/db", "add a/api",
                                             "update a/web 8->12", "delete b/db"}));
  EXPECT_EQ(informer().reflector().last_resource_version(), "16");
  EXPECT_EQ(informer().get("a/web")->value.count, 3);
  EXPECT_EQ(informer().get("b/db"), nullptr);
  EXPECT_EQ(informer().list_namespace("a").size(), 2u);
  EXPECT_EQ(informer().by_index("app", "web").size(), 2u);
  EXPECT_TRUE(informer().by_index("app", "db").empty());
  EXPECT_EQ(metrics_.gauge("informer_objects", "").labels({"deployments"}).value(), 2.0);
}

// A namespace is a range of the store's keys: "a" must not take in "ab", nor "ab" in "a-b".
TEST_F(InformerTest, ListsOneNamespaceInKeyOrder) {
  for (const auto& [ns, name] : std::vector<std::pair<std::string, std::string>>{
           {"ab", "x"}, {"a", "z"}, {"a-b", "y"}, {"a", "b"}, {"", "cluster-wide"}, {"b", "a"}}) {
    informer().apply(WatchEventType::kAdded, deployment(ns, name, "1"));
  }
  auto keys = [](const auto& objects) {
    std::vector<std::string> out;
    for (const auto& object : objects) out.push_back(object->metadata.key());
    return out;
  };
  EXPECT_EQ(keys(informer().list_namespace("a")), (std::vector<std::string>{"a/b", "a/z"}));
  EXPECT_EQ(keys(informer().list_namespace("ab")), (std::vector<std::string>{"ab/x"}));
  EXPECT_EQ(keys(informer().list_namespace("")), (std::vector<std::string>{"cluster-wide"}));
  EXPECT_TRUE(informer().list_namespace("c").empty());
  EXPECT_EQ(keys(informer().list()),
            (std::vector<std::string>{"a-b/y", "a/b", "a/z", "ab/x", "b/a", "cluster-wide"}));
}

TEST_F(InformerTest, ARelistAfterGoneTurnsTheDifferenceIntoEvents) {
  EXPECT_CALL(api_, list(_, _, _))
      .WillOnce(Return(list_of("10", {deployment("a", "keep", "1"), deployment("a", "change", "2"),
                                      deployment("a", "vanish", "3")})))
      .WillOnce(Return(list_of("30", {deployment("a", "keep", "1"), deployment("a", "change", "20"),
                                      deployment("a", "new", "25")})));
  EXPECT_CALL(api_, watch(_, _, WatchesFrom("10")))
      .WillOnce(Return(ByMove(WatchStreamPtr(stream_of(
          {ApiResult<std::optional<WatchEvent>>(api_error(ApiErrorKind::kGone, 410))})))));
  EXPECT_CALL(api_, watch(_, _, WatchesFrom("30")))
      .WillOnce(Return(ByMove(WatchStreamPtr(stream_of(
          {ApiResult<std::optional<WatchEvent>>(api_error(ApiErrorKind::kGone, 410))})))));
  EXPECT_EQ(informer().reflector().list_and_watch(stop_.get_token()), Reflector::Outcome::kRelist);
  seen_.clear();
  EXPECT_EQ(informer().reflector().list_and_watch(stop_.get_token()), Reflector::Outcome::kRelist);
  std::sort(seen_.begin(), seen_.end());
  EXPECT_EQ(seen_,
            (std::vector<std::string>{"add a/new", "delete a/vanish", "update a/change 2->20"}));
  EXPECT_EQ(metrics_.counter("reflector_watch_restarts_total", "")
                .labels({"deployments", "gone"})
                .value(),
            2.0);
}

TEST_F(InformerTest, AWatchTheServerEndsIsRenewedFromTheLastVersionWithoutAList) {
  EXPECT_CALL(api_, list(_, _, _)).WillOnce(Return(list_of("10", {})));
  EXPECT_CALL(api_, watch(_, _, WatchesFrom("10"))).WillOnce([this](auto&&...) {
    clock_.advance(std::chrono::minutes(5));  // the server's timeout passes
    return ApiResult<WatchStreamPtr>(WatchStreamPtr(
        stream_of({event(WatchEventType::kBookmark, {{"metadata", {{"resourceVersion", "12"}}}}),
                   end_of_watch()})));
  });
  EXPECT_CALL(api_, watch(_, _, WatchesFrom("12")))
      .WillOnce(Return(ByMove(WatchStreamPtr(stream_of(
          {ApiResult<std::optional<WatchEvent>>(api_error(ApiErrorKind::kGone, 410))})))));
  EXPECT_EQ(informer().reflector().list_and_watch(stop_.get_token()), Reflector::Outcome::kRelist);
}

TEST_F(InformerTest, WatchTimeoutIsRandomisedBetweenOnceAndTwiceTheMinimum) {
  ON_CALL(random_, uniform()).WillByDefault(Return(0.5));
  EXPECT_CALL(api_, list(_, _, _)).WillOnce(Return(list_of("1", {})));
  EXPECT_CALL(api_, watch(_, _, Field(&WatchOptions::timeout_seconds, 450)))
      .WillOnce(Return(ByMove(WatchStreamPtr(stream_of(
          {ApiResult<std::optional<WatchEvent>>(api_error(ApiErrorKind::kGone, 410))})))));
  informer().reflector().list_and_watch(stop_.get_token());
}

TEST_F(InformerTest, ABrokenConnectionIsRewatchedFromTheSameVersionAfterABackoff) {
  EXPECT_CALL(api_, list(_, _, _)).WillOnce(Return(list_of("10", {})));
  EXPECT_CALL(api_, watch(_, _, WatchesFrom("10")))
      .WillOnce(Return(ByMove(WatchStreamPtr(stream_of({
          event(WatchEventType::kAdded, deployment("a", "web", "11")),
          ApiResult<std::optional<WatchEvent>>(api_error(ApiErrorKind::kTransport)),
      })))));
  std::atomic<int> rewatches{0};
  EXPECT_CALL(api_, watch(_, _, WatchesFrom("11")))
      .WillOnce([&](auto&&...) {
        ++rewatches;
        return ApiResult<WatchStreamPtr>(api_error(ApiErrorKind::kTransport));  // still down
      })
      .WillOnce([&](auto&&...) {
        ++rewatches;
        return ApiResult<WatchStreamPtr>(WatchStreamPtr(stream_of(
            {ApiResult<std::optional<WatchEvent>>(api_error(ApiErrorKind::kGone, 410))})));
      });
  informer();
  std::future<Reflector::Outcome> outcome = std::async(std::launch::async, [this] {
    return informer_->reflector().list_and_watch(stop_.get_token());
  });
  ASSERT_TRUE(clock_.wait_for_pending_timers(1));
  EXPECT_EQ(rewatches.load(), 0);
  clock_.advance(std::chrono::milliseconds(800));  // first backoff
  ASSERT_TRUE(clock_.wait_for_pending_timers(1));
  EXPECT_EQ(rewatches.load(), 1);
  clock_.advance(std::chrono::milliseconds(1600));  // doubled
  EXPECT_EQ(outcome.get(), Reflector::Outcome::kRelist);
  EXPECT_EQ(rewatches.load(), 2);
  EXPECT_EQ(informer().size(), 1u);
}

TEST_F(InformerTest, AWatchRefusedForAnotherReasonFailsTheCycleForABackoffAndRelist) {
  EXPECT_CALL(api_, list(_, _, _)).WillOnce(Return(list_of("10", {})));
  EXPECT_CALL(api_, watch(_, _, _))
      .WillOnce(Return(ByMove(api_error(ApiErrorKind::kForbidden, 403))));
  EXPECT_EQ(informer().reflector().list_and_watch(stop_.get_token()), Reflector::Outcome::kFailed);
}

TEST_F(InformerTest, AFailedListKeepsTheCacheAndIsNotSynced) {
  EXPECT_CALL(api_, list(_, _, _)).WillOnce(Return(api_error(ApiErrorKind::kForbidden, 403)));
  EXPECT_EQ(informer().reflector().list_and_watch(stop_.get_token()), Reflector::Outcome::kFailed);
  EXPECT_FALSE(informer().has_synced());
  const auto lines = logger_.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], ::testing::HasSubstr("deployments: list failed: forbidden (403)"));
}

TEST_F(InformerTest, TheTransformDropsManagedFieldsBeforeTheProjectionSeesThem) {
  Informer<CompactObject> compact("deployments", api_, fixed_resource(resources::kDeployments),
                                  project_compact, {}, clock_, random_, metrics_, logger_);
  compact.start_replace();
  compact.replace_item(deployment("a", "web", "1"));
  compact.finish_replace();
  json stored = compact.get("a/web")->value.decode();
  EXPECT_FALSE(stored["metadata"].contains("managedFields"));
  EXPECT_EQ(stored["spec"]["replicas"], 1);
}

// Counts the scopes open on it; the informer is the only user in these tests.
class FakeLongLivedArena final : public LongLivedArena {
 public:
  unsigned enter() override { return open_++; }
  void leave(unsigned previous) override { open_ = previous; }
  bool inside() const { return open_ > 0; }
  unsigned open() const { return open_; }

 private:
  unsigned open_ = 0;
};

TEST_F(InformerTest, CachedEntriesAreBuiltInTheLongLivedArena) {
  FakeLongLivedArena arena;
  install_long_lived_arena(&arena);
  std::vector<bool> projected_inside;
  Informer<Replicas> informer(
      "deployments", api_, fixed_resource(resources::kDeployments),
      [&](const json& object) {
        projected_inside.push_back(arena.inside());
        return project_replicas(object);
      },
      {}, clock_, random_, metrics_, logger_);
  informer.start_replace();
  informer.replace_item(deployment("a", "web", "1"));
  informer.finish_replace();
  informer.apply(WatchEventType::kModified, deployment("a", "web", "2", json::object(), 3));
  install_long_lived_arena(nullptr);

  EXPECT_EQ(projected_inside, (std::vector<bool>{true, true}));  // the list's and the event's
  EXPECT_EQ(arena.open(), 0u);                                   // every scope closed
  EXPECT_EQ(informer.get("a/web")->value.count, 3);
}

TEST_F(InformerTest, LateHandlersAreToldOfExistingObjects) {
  informer().start_replace();
  informer().replace_item(deployment("a", "web", "1"));
  informer().finish_replace();
  std::vector<std::string> late;
  informer().add_handlers({[&](auto& object) { late.push_back(object->metadata.key()); }, {}, {}});
  EXPECT_EQ(late, (std::vector<std::string>{"a/web"}));
}

TEST_F(InformerTest, HandlersEnqueueKeysOnAWorkQueue) {
  WorkQueue queue("deployments", clock_, make_default_controller_rate_limiter(clock_), metrics_);
  informer().add_handlers(enqueue_keys_of<Replicas>(queue));
  informer().apply(WatchEventType::kAdded, deployment("a", "web", "1"));
  informer().apply(WatchEventType::kModified, deployment("a", "web", "2"));
  informer().apply(WatchEventType::kAdded, deployment("b", "db", "3"));
  EXPECT_EQ(queue.get(), "a/web");
  EXPECT_EQ(queue.get(), "b/db");
  EXPECT_EQ(queue.length(), 0u);
}

TEST_F(InformerTest, AResourceNotServedYetIsSyncedEmptyAndFoundLater) {
  int calls = 0;
  ResourceResolver resolver = [&]() -> ApiResult<std::optional<ResourceType>> {
    if (++calls == 1) return std::optional<ResourceType>();
    return std::optional<ResourceType>(
        ResourceType{"security.istio.io", "v1", "peerauthentications", "PeerAuthentication", true});
  };
  Informer<CompactObject> policies("peerauthentications", api_, resolver, project_compact, {},
                                   clock_, random_, metrics_, logger_);
  EXPECT_EQ(policies.reflector().list_and_watch(stop_.get_token()), Reflector::Outcome::kNotServed);
  EXPECT_TRUE(policies.has_synced());
  EXPECT_EQ(policies.size(), 0u);
  EXPECT_CALL(api_, list(Field(&ResourceType::group, "security.istio.io"), _, _))
      .WillOnce(Return(list_of("5", {deployment("a", "strict", "4")})));
  EXPECT_CALL(api_, watch(_, _, _)).WillOnce(Return(ByMove(api_error(ApiErrorKind::kGone, 410))));
  EXPECT_EQ(policies.reflector().list_and_watch(stop_.get_token()), Reflector::Outcome::kRelist);
  EXPECT_EQ(policies.size(), 1u);
}

TEST_F(InformerTest, StopEndsABlockedWatchAndTheThread) {
  std::promise<void> watching;
  auto stream = std::make_unique<NiceMock<MockWatchStream>>();
  auto cancelled = std::make_shared<std::promise<void>>();
  auto when_cancelled = cancelled->get_future().share();
  ON_CALL(*stream, next()).WillByDefault([&watching, when_cancelled] {
    watching.set_value();
    when_cancelled.wait();
    return ApiResult<std::optional<WatchEvent>>(api_error(ApiErrorKind::kStopped));
  });
  ON_CALL(*stream, cancel()).WillByDefault([cancelled] { cancelled->set_value(); });
  EXPECT_CALL(api_, list(_, _, _)).WillOnce(Return(list_of("1", {})));
  EXPECT_CALL(api_, watch(_, _, _)).WillOnce(Return(ByMove(WatchStreamPtr(std::move(stream)))));
  informer().start();
  watching.get_future().wait();
  EXPECT_TRUE(informer().has_synced());
  informer().stop();
}

}  // namespace
}  // namespace meshprobe::kube
