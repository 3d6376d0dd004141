#include "kube/leader_election.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>

#include "kube/fake_clock.h"
#include "kube/mocks/mock_kubernetes_api.h"
#include "kube/mocks/mock_random.h"
#include "kube/test_support.h"

namespace meshprobe::kube {
namespace {

using nlohmann::json;
using ::testing::_;
using ::testing::NiceMock;
using ::testing::Return;

json lease(const std::string& holder, const std::string& renew_time, int transitions,
           const std::string& resource_version) {
  json spec = {{"leaseDurationSeconds", 15},
               {"leaseTransitions", transitions},
               {"acquireTime", "2025-12-31T23:00:00.000000Z"},
               {"renewTime", renew_time}};
  if (!holder.empty()) spec["holderIdentity"] = holder;
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata",
           {{"name", "meshprobe"},
            {"namespace", "meshprobe-system"},
            {"resourceVersion", resource_version}}},
          {"spec", spec}};
}

MATCHER_P3(LeaseHeldBy, holder, transitions, resource_version, "") {
  const json& spec = arg["spec"];
  return spec.value("holderIdentity", "") == holder && spec["leaseTransitions"] == transitions &&
         arg["metadata"].value("resourceVersion", "") == resource_version;
}

class LeaderElectionTest : public ::testing::Test {
 protected:
  LeaderElectionTest() { ON_CALL(random_, uniform()).WillByDefault(Return(0.0)); }

  LeaderElector& elector() {
    if (!elector_) {
      elector_ = std::make_unique<LeaderElector>(
          api_, LeaderElectionConfig{"meshprobe-system", "meshprobe", "pod-a"},
          LeaderCallbacks{[this](std::stop_token leading) {
                            leading_ = leading;
                            started_.set_value();
                          },
                          [this] { stopped_.set_value(); },
                          [this](const std::string& identity) { leaders_.push_back(identity); }},
          clock_, random_, metrics_, logger_);
    }
    return *elector_;
  }

  FakeClock clock_;
  NiceMock<MockRandom> random_;
  MetricsRegistry metrics_;
  RecordingLogger logger_;
  ::testing::StrictMock<MockKubernetesApi> api_;
  std::unique_ptr<LeaderElector> elector_;
  std::stop_token leading_;
  std::promise<void> started_;
  std::promise<void> stopped_;
  std::vector<std::string> leaders_;
};

TEST_F(LeaderElectionTest, CreatesAnAbsentLease) {
  EXPECT_CALL(api_, get(resources::kLeases, "meshprobe-system", "meshprobe", ""))
      .WillOnce(Return(api_error(ApiErrorKind::kNotFound)));
  EXPECT_CALL(api_, create(resources::kLeases, "meshprobe-system", _, _))
      .WillOnce([](auto&, auto&, const json& object, auto&) {
        EXPECT_EQ(object["spec"],
                  json::parse(R"({"holderIdentity":"pod-a","leaseDurationSeconds":15,
                     "acquireTime":"2026-01-01T00:00:00.000000Z",
                     "renewTime":"2026-01-01T00:00:00.000000Z","leaseTransitions":0})"));
        return ApiResult<json>(object);
      });
  EXPECT_TRUE(elector().try_acquire_or_renew());
  EXPECT_EQ(leaders_, (std::vector<std::string>{"pod-a"}));
}

TEST_F(LeaderElectionTest, TakesOverOnlyAfterTheHolderStoppedRenewingForTheLeaseDuration) {
  EXPECT_CALL(api_, get(_, _, _, _))
      .WillOnce(Return(lease("pod-b", "2025-12-31T23:59:59.000000Z", 3, "10")))
      .WillOnce(Return(lease("pod-b", "2025-12-31T23:59:59.000000Z", 3, "10")))
      .WillOnce(Return(lease("pod-b", "2025-12-31T23:59:59.000000Z", 3, "10")));
  EXPECT_FALSE(elector().try_acquire_or_renew());
  clock_.advance(std::chrono::milliseconds(14999));
  EXPECT_FALSE(elector().try_acquire_or_renew()) << "still within the lease duration";
  clock_.advance(std::chrono::milliseconds(1));
  EXPECT_CALL(api_,
              update(resources::kLeases, "meshprobe-system", LeaseHeldBy("pod-a", 4, "10"), _))
      .WillOnce([](auto&, auto&, const json& object, auto&) { return ApiResult<json>(object); });
  EXPECT_TRUE(elector().try_acquire_or_renew());
  EXPECT_EQ(leaders_, (std::vector<std::string>{"pod-b", "pod-a"}));
}

TEST_F(LeaderElectionTest, AHolderThatKeepsRenewingKeepsTheLease) {
  EXPECT_CALL(api_, get(_, _, _, _))
      .WillOnce(Return(lease("pod-b", "2026-01-01T00:00:00.000000Z", 0, "10")))
      .WillOnce(Return(lease("pod-b", "2026-01-01T00:00:10.000000Z", 0, "11")));
  EXPECT_FALSE(elector().try_acquire_or_renew());
  clock_.advance(std::chrono::seconds(10));
  EXPECT_FALSE(elector().try_acquire_or_renew());
  clock_.advance(std::chrono::seconds(10));  // 20 s since the first look, 10 s since the change
  EXPECT_CALL(api_, get(_, _, _, _))
      .WillOnce(Return(lease("pod-b", "2026-01-01T00:00:10.000000Z", 0, "11")));
  EXPECT_FALSE(elector().try_acquire_or_renew());
}

TEST_F(LeaderElectionTest, ARenewalKeepsTheAcquireTimeAndTransitions) {
  EXPECT_CALL(api_, get(_, _, _, _))
      .WillOnce(Return(lease("pod-a", "2026-01-01T00:00:00.000000Z", 2, "20")));
  EXPECT_CALL(api_, update(_, _, LeaseHeldBy("pod-a", 2, "20"), _))
      .WillOnce([](auto&, auto&, const json& object, auto&) {
        EXPECT_EQ(object["spec"]["acquireTime"], "2025-12-31T23:00:00.000000Z");
        return ApiResult<json>(object);
      });
  EXPECT_TRUE(elector().try_acquire_or_renew());
}

TEST_F(LeaderElectionTest, LosingTheWriteRaceIsNotLeading) {
  EXPECT_CALL(api_, get(_, _, _, _))
      .WillOnce(Return(lease("", "2026-01-01T00:00:00.000000Z", 1, "5")));
  EXPECT_CALL(api_, update(_, _, _, _)).WillOnce(Return(api_error(ApiErrorKind::kConflict)));
  EXPECT_FALSE(elector().try_acquire_or_renew());
}

// The property that matters: with renewals hanging, the leader stops acting renewDeadline
// (10 s) after its last renewal, before a rival may take the Lease (15 s).
TEST_F(LeaderElectionTest, StopsLeadingAtTheRenewDeadlineEvenWhileARenewalHangs) {
  std::promise<void> renewing;
  std::promise<void> unblock;
  auto unblocked = unblock.get_future().share();
  EXPECT_CALL(api_, get(_, _, _, _))
      .WillOnce(Return(api_error(ApiErrorKind::kNotFound)))
      .WillOnce([&](auto&&...) {
        renewing.set_value();
        unblocked.wait();
        return ApiResult<json>(api_error(ApiErrorKind::kTimeout));
      })
      .WillRepeatedly(Return(api_error(ApiErrorKind::kTransport)));
  EXPECT_CALL(api_, create(_, _, _, _)).WillOnce([](auto&, auto&, const json& object, auto&) {
    return ApiResult<json>(object);
  });
  elector().start();
  started_.get_future().wait();
  EXPECT_TRUE(elector().is_leader());
  ASSERT_TRUE(clock_.wait_for_pending_timers(2));  // the renew deadline and the retry period
  clock_.advance(std::chrono::seconds(2));
  renewing.get_future().wait();
  clock_.advance(std::chrono::milliseconds(7999));
  EXPECT_TRUE(elector().is_leader());
  EXPECT_FALSE(leading_.stop_requested());
  clock_.advance(std::chrono::milliseconds(1));
  EXPECT_EQ(stopped_.get_future().wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_FALSE(elector().is_leader());
  EXPECT_TRUE(leading_.stop_requested());
  EXPECT_EQ(metrics_.gauge("leader_election_master_status", "").labels({"meshprobe"}).value(), 0.0);
  unblock.set_value();
  elector().stop();
}

TEST_F(LeaderElectionTest, StopReleasesTheLease) {
  EXPECT_CALL(api_, get(_, _, _, _))
      .WillOnce(Return(api_error(ApiErrorKind::kNotFound)))
      .WillOnce(Return(lease("pod-a", "2026-01-01T00:00:00.000000Z", 0, "7")));
  EXPECT_CALL(api_, create(_, _, _, _)).WillOnce([](auto&, auto&, const json& object, auto&) {
    return ApiResult<json>(object);
  });
  EXPECT_CALL(api_, update(_, _, LeaseHeldBy("", 0, "7"), _))
      .WillOnce([](auto&, auto&, const json& object, auto&) {
        EXPECT_EQ(object["spec"]["leaseDurationSeconds"], 1);
        return ApiResult<json>(object);
      });
  elector().start();
  started_.get_future().wait();
  elector().stop();
  EXPECT_EQ(stopped_.get_future().wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_TRUE(leading_.stop_requested());
}

TEST(LeaderElectionConfigTest, ValidatesTheTimingRules) {
  EXPECT_TRUE(validate({"ns", "name", "id"}).ok());
  LeaderElectionConfig config{"ns", "name", "id"};
  config.renew_deadline = config.lease_duration;
  EXPECT_FALSE(validate(config).ok());
  config = {"ns", "name", "id"};
  config.retry_period = std::chrono::seconds(9);
  EXPECT_FALSE(validate(config).ok());
  EXPECT_FALSE(validate({"ns", "name", ""}).ok());
}

TEST(MicroTimeTest, FormatsWithMicroseconds) {
  EXPECT_EQ(format_micro_time(SystemTime{} + std::chrono::seconds(1767225600) +
                              std::chrono::microseconds(42)),
            "2026-01-01T00:00:00.000042Z");
}

// Issue 17: against a cluster without the Lease's namespace the candidate logged the same
// warning every retry period, forever. Now: one error line naming the fix, and problem() (what
// /readyz reports) says why it cannot lead.
TEST_F(LeaderElectionTest, AMissingNamespaceIsOneClearProblemNamingTheFix) {
  ApiError missing = api_error(ApiErrorKind::kNotFound);
  missing.detail = "namespaces \"meshprobe-system\" not found";
  EXPECT_CALL(api_, get(resources::kLeases, "meshprobe-system", "meshprobe", ""))
      .Times(3)
      .WillRepeatedly(Return(api_error(ApiErrorKind::kNotFound)));
  EXPECT_CALL(api_, create(resources::kLeases, "meshprobe-system", _, _))
      .Times(3)
      .WillRepeatedly(Return(missing));
  EXPECT_EQ(elector().problem(), std::nullopt);
  for (int attempt = 0; attempt < 3; ++attempt) EXPECT_FALSE(elector().try_acquire_or_renew());
  ASSERT_TRUE(elector().problem().has_value());
  EXPECT_THAT(*elector().problem(),
              ::testing::StartsWith("namespace meshprobe-system not found (create it: kubectl "
                                    "create namespace meshprobe-system"));
  EXPECT_THAT(*elector().problem(), ::testing::HasSubstr("run without --leader-elect"));
  int shown = 0;
  for (const auto& line : logger_.lines(LogLevel::kInfo)) {
    if (line.find("namespace meshprobe-system not found") != std::string::npos) ++shown;
  }
  EXPECT_EQ(shown, 1) << "logged once, not every retry period (then at debug level)";
}

TEST_F(LeaderElectionTest, ForbiddenIsAProblemNamingTheRbacAndClearsOnceItCanCompete) {
  ApiError forbidden = api_error(ApiErrorKind::kForbidden);
  forbidden.detail = "leases.coordination.k8s.io \"meshprobe\" is forbidden";
  EXPECT_CALL(api_, get(resources::kLeases, "meshprobe-system", "meshprobe", ""))
      .WillOnce(Return(forbidden))
      .WillOnce(Return(lease("pod-b", "2026-01-01T00:00:00.000000Z", 1, "7")));
  EXPECT_FALSE(elector().try_acquire_or_renew());
  ASSERT_TRUE(elector().problem().has_value());
  EXPECT_THAT(*elector().problem(),
              ::testing::HasSubstr("grant get, create and update on leases.coordination.k8s.io"));
  EXPECT_FALSE(elector().try_acquire_or_renew()) << "pod-b leads";
  EXPECT_EQ(elector().problem(), std::nullopt) << "a standby replica has no problem";
}

}  // namespace
}  // namespace meshprobe::kube
