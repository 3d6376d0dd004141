// Leader election on a real Lease: one leader at a time; a leader that cannot renew (its RBAC
// is revoked) stops acting before another candidate takes over; a released Lease is taken
// over at once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "connection.h"
#include "harness/end_to_end_test.h"
#include "kube/leader_election.h"

namespace meshprobe::e2e {
namespace {

using Clock = std::chrono::steady_clock;

class KubeLeaseTest : public EndToEndTest {
 protected:
  struct Candidate {
    std::unique_ptr<Connection> connection;
    std::unique_ptr<kube::LeaderElector> elector;
    std::atomic<bool> leading{false};
    std::atomic<Clock::rep> started_at{0};
    std::atomic<Clock::rep> stopped_at{0};
  };

  std::unique_ptr<Candidate> candidate(const std::string& identity, const std::string& kubeconfig) {
    auto result = std::make_unique<Candidate>();
    auto connection = connect(kubeconfig);
    EXPECT_TRUE(connection.ok()) << connection.error().message;
    if (!connection.ok()) return nullptr;
    result->connection = std::move(connection).value();
    kube::LeaderElectionConfig config{test_namespace(), "meshprobe", identity};
    config.lease_duration = std::chrono::seconds(6);
    config.renew_deadline = std::chrono::seconds(4);
    config.retry_period = std::chrono::milliseconds(500);
    Candidate* self = result.get();
    result->elector = std::make_unique<kube::LeaderElector>(
        *result->connection->api, config,
        kube::LeaderCallbacks{[self](std::stop_token) {
                                self->started_at = Clock::now().time_since_epoch().count();
                                self->leading = true;
                              },
                              [self] {
                                self->leading = false;
                                self->stopped_at = Clock::now().time_since_epoch().count();
                              },
                              {}},
        result->connection->clock, result->connection->random, result->connection->metrics,
        result->connection->logger);
    return result;
  }

  std::string holder() {
    auto lease = kubectl().get_json({"lease", "meshprobe", "-n", test_namespace()});
    if (!lease.ok()) return "";
    return (*lease)["spec"].value("holderIdentity", "");
  }

  Result<std::string> lease_kubeconfig(const std::string& name) {
    return service_account_kubeconfig(name, {{.api_groups = {"coordination.k8s.io"},
                                              .resources = {"leases"},
                                              .verbs = {"get", "create", "update"}}});
  }
};

TEST_F(KubeLeaseTest, OneLeaderAndAReleasedLeaseIsTakenOverAtOnce) {
  auto a = candidate("pod-a", cluster().admin_kubeconfig);
  auto b = candidate("pod-b", cluster().admin_kubeconfig);
  ASSERT_TRUE(a && b);
  a->elector->start();
  ASSERT_TRUE(
      eventually("pod-a to lead", std::chrono::seconds(30), [&] { return a->leading.load(); }));
  b->elector->start();
  const auto watch_until = Clock::now() + std::chrono::seconds(8);  // beyond the lease duration
  while (Clock::now() < watch_until) {
    ASSERT_FALSE(b->leading.load()) << "two leaders";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(holder(), "pod-a");
  const auto released = Clock::now();
  a->elector->stop();
  EXPECT_FALSE(a->leading.load());
  ASSERT_TRUE(
      eventually("pod-b to lead", std::chrono::seconds(30), [&] { return b->leading.load(); }));
  EXPECT_LT(Clock::now() - released, std::chrono::seconds(3)) << "released, not expired";
  EXPECT_EQ(holder(), "pod-b");
  b->elector->stop();
  EXPECT_EQ(holder(), "");
}

TEST_F(KubeLeaseTest, ALeaderThatCannotRenewStopsBeforeAnotherTakesOver) {
  auto a_config = lease_kubeconfig("candidate-a");
  auto b_config = lease_kubeconfig("candidate-b");
  ASSERT_TRUE(a_config.ok() && b_config.ok());
  auto a = candidate("pod-a", *a_config);
  auto b = candidate("pod-b", *b_config);
  ASSERT_TRUE(a && b);
  a->elector->start();
  ASSERT_TRUE(
      eventually("pod-a to lead", std::chrono::seconds(30), [&] { return a->leading.load(); }));
  b->elector->start();
  // pod-a loses the right to write the Lease: every renewal is now Forbidden.
  ASSERT_TRUE(command_succeeded(
      kubectl().run({"delete", "rolebinding", "candidate-a", "-n", test_namespace()})));
  ASSERT_TRUE(
      eventually("pod-b to lead", std::chrono::seconds(60), [&] { return b->leading.load(); }));
  EXPECT_FALSE(a->leading.load());
  ASSERT_NE(a->stopped_at.load(), 0);
  EXPECT_LT(a->stopped_at.load(), b->started_at.load())
      << "pod-a stopped acting before pod-b started";
  a->elector->stop();
  b->elector->stop();
}

}  // namespace
}  // namespace meshprobe::e2e
