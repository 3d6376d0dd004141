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
    std::atomic<Clock::rep> startedAt{0};
    std::atomic<Clock::rep> stoppedAt{0};
  };

  std::unique_ptr<Candidate> candidate(const std::string& identity, const std::string& kubeconfig) {
    auto result = std::make_unique<Candidate>();
    auto connection = connect(kubeconfig);
    EXPECT_TRUE(connection.ok()) << connection.error().message;
    if (!connection.ok()) return nullptr;
    result->connection = std::move(connection).value();
    kube::LeaderElectionConfig config{testNamespace(), "meshprobe", identity};
    config.leaseDuration = std::chrono::seconds(6);
    config.renewDeadline = std::chrono::seconds(4);
    config.retryPeriod = std::chrono::milliseconds(500);
    Candidate* self = result.get();
    result->elector = std::make_unique<kube::LeaderElector>(
        *result->connection->api, config,
        kube::LeaderCallbacks{[self](std::stop_token) {
                                self->startedAt = Clock::now().time_since_epoch().count();
                                self->leading = true;
                              },
                              [self] {
                                self->leading = false;
                                self->stoppedAt = Clock::now().time_since_epoch().count();
                              },
                              {}},
        result->connection->clock, result->connection->random, result->connection->metrics,
        result->connection->logger);
    return result;
  }

  std::string holder() {
    auto lease = kubectl().getJson({"lease", "meshprobe", "-n", testNamespace()});
    if (!lease.ok()) return "";
    return (*lease)["spec"].value("holderIdentity", "");
  }

  Result<std::string> leaseKubeconfig(const std::string& name) {
    return serviceAccountKubeconfig(
        name, {{.api_groups = {"coordination.k8s.io"}, .resources = {"leases"}, .verbs = {"get", "create", "update"}}});
  }
};

TEST_F(KubeLeaseTest, OneLeaderAndAReleasedLeaseIsTakenOverAtOnce) {
  auto a = candidate("pod-a", cluster().admin_kubeconfig);
  auto b = candidate("pod-b", cluster().admin_kubeconfig);
  ASSERT_TRUE(a && b);
  a->elector->start();
  ASSERT_TRUE(eventually("pod-a to lead", std::chrono::seconds(30), [&] { return a->leading.load(); }));
  b->elector->start();
  const auto watchUntil = Clock::now() + std::chrono::seconds(8);  // beyond the lease duration
  while (Clock::now() < watchUntil) {
    ASSERT_FALSE(b->leading.load()) << "two leaders";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(holder(), "pod-a");
  const auto released = Clock::now();
  a->elector->stop();
  EXPECT_FALSE(a->leading.load());
  ASSERT_TRUE(eventually("pod-b to lead", std::chrono::seconds(30), [&] { return b->leading.load(); }));
  EXPECT_LT(Clock::now() - released, std::chrono::seconds(3)) << "released, not expired";
  EXPECT_EQ(holder(), "pod-b");
  b->elector->stop();
  EXPECT_EQ(holder(), "");
}

TEST_F(KubeLeaseTest, ALeaderThatCannotRenewStopsBeforeAnotherTakesOver) {
  auto aConfig = leaseKubeconfig("candidate-a");
  auto bConfig = leaseKubeconfig("candidate-b");
  ASSERT_TRUE(aConfig.ok() && bConfig.ok());
  auto a = candidate("pod-a", *aConfig);
  auto b = candidate("pod-b", *bConfig);
  ASSERT_TRUE(a && b);
  a->elector->start();
  ASSERT_TRUE(eventually("pod-a to lead", std::chrono::seconds(30), [&] { return a->leading.load(); }));
  b->elector->start();
  // pod-a loses the right to write the Lease: every renewal is now Forbidden.
  ASSERT_TRUE(commandSucceeded(kubectl().run({"delete", "rolebinding", "candidate-a", "-n", testNamespace()})));
  ASSERT_TRUE(eventually("pod-b to lead", std::chrono::seconds(60), [&] { return b->leading.load(); }));
  EXPECT_FALSE(a->leading.load());
  ASSERT_NE(a->stoppedAt.load(), 0);
  EXPECT_LT(a->stoppedAt.load(), b->startedAt.load()) << "pod-a stopped acting before pod-b started";
  a->elector->stop();
  b->elector->stop();
}

}  // namespace
}  // namespace meshprobe::e2e
