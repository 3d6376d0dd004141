#include "operator/policy_status_reconciler.h"

#include "operator/cluster_fixture.h"

namespace meshprobe::controller {
namespace {

using nlohmann::json;
using ::testing::_;
using ::testing::DoAll;
using ::testing::Field;
using ::testing::Return;
using ::testing::SaveArg;

class PolicyStatusReconcilerTest : public ClusterFixture {
 protected:
  // The status the reconciler writes for `key` (one merge patch of /status).
  json written_status(const std::string& namespace_name, const std::string& name) {
    std::string body;
    EXPECT_CALL(api, patch(_, namespace_name, name, kube::PatchType::kMerge, _,
                           Field(&kube::PatchOptions::subresource, "status")))
        .WillOnce(DoAll(SaveArg<4>(&body), Return(json::object())));
    EXPECT_EQ(reconciler.reconcile(namespace_name + "/" + name).kind,
              kube::ReconcileResult::Kind::kDone);
    ::testing::Mock::VerifyAndClearExpectations(&api);
    return body.empty() ? json() : json::parse(body)["status"];
  }

  PolicyStatusReconciler reconciler{cache,          api, clock, metrics, logger, "istio-system",
                                    {"kube-system"}};
};

TEST_F(PolicyStatusReconcilerTest, CountsTheWorkloadsItDecidesForAndThoseRewritten) {
  put(*deployments, deployment_object("shop", "web", "1", http_liveness_pod_spec()));
  json rewritten = deployment_object("shop", "api", "1", http_liveness_pod_spec());
  rewritten["spec"]["template"] =
      probe::rewrite(rewritten["spec"]["template"], {"agent:1", kTestAgentPort})->pod_template;
  put(*deployments, rewritten);
  put(*deployments, deployment_object("bank", "ledger", "1", http_liveness_pod_spec()));
  put(*policies, policy_object("shop", "all", {{"mode", "Always"}}));

  // A StatefulSet and a CronJob the policy decides for count as workloads, not Deployments.
  json stateful_set = deployment_object("shop", "db", "1", http_liveness_pod_spec());
  stateful_set["spec"]["template"] =
      probe::rewrite(stateful_set["spec"]["template"], {"agent:1", kTestAgentPort})->pod_template;
  put(workloads_of("StatefulSet"), stateful_set);
  json cron_job = deployment_object("shop", "nightly", "1", http_liveness_pod_spec());
  cron_job["spec"] = {{"jobTemplate", {{"spec", {{"template", cron_job["spec"]["template"]}}}}}};
  put(workloads_of("CronJob"), cron_job);

  const json status = written_status("shop", "all");
  EXPECT_EQ(status["matchedWorkloads"], 4);
  EXPECT_EQ(status["rewrittenWorkloads"], 2);
  EXPECT_EQ(status["matchedDeployments"], 2);
  EXPECT_EQ(status["rewrittenDeployments"], 1);
  EXPECT_EQ(status["observedGeneration"], 1);
  EXPECT_EQ(status["conditions"][0]["type"], "Accepted");
  EXPECT_EQ(status["conditions"][0]["status"], "True");
  EXPECT_EQ(status["conditions"][0]["observedGeneration"], 1);

  // Until the cache shows the write, nothing is recounted (StrictMock: no call).
  EXPECT_EQ(reconciler.reconcile("shop/all").kind, kube::ReconcileResult::Kind::kRequeueAfter);

  // Unchanged: nothing is written again.
  json with_status = policy_object("shop", "all", {{"mode", "Always"}});
  with_status["metadata"]["resourceVersion"] = "8";
  with_status["status"] = status;
  put(*policies, with_status);
  EXPECT_EQ(reconciler.reconcile("shop/all").kind, kube::ReconcileResult::Kind::kDone);
}

TEST_F(PolicyStatusReconcilerTest, AMoreSpecificPolicyTakesItsDeploymentsAway) {
  put(*deployments, deployment_object("shop", "web", "1", http_liveness_pod_spec()));
  put(*deployments, deployment_object("shop", "api", "1", http_liveness_pod_spec()));
  put(*deployments, deployment_object("kube-system", "dns", "1", http_liveness_pod_spec()));
  put(*policies, policy_object("istio-system", "mesh", {{"mode", "WhenRequired"}}));
  put(*policies,
      policy_object("shop", "web-only",
                    {{"mode", "Never"}, {"selector", {{"matchLabels", {{"app", "web"}}}}}}));
  EXPECT_EQ(written_status("istio-system", "mesh")["matchedDeployments"],
            1);  // api; dns is excluded
  EXPECT_EQ(written_status("shop", "web-only")["matchedDeployments"], 1);
}

TEST_F(PolicyStatusReconcilerTest, AnInvalidSpecIsNotAccepted) {
  put(*policies, policy_object("shop", "bad", {{"mode", "Sometimes"}}));
  const json status = written_status("shop", "bad");
  EXPECT_EQ(status["conditions"][0]["status"], "False");
  EXPECT_EQ(status["conditions"][0]["reason"], "InvalidSpec");
  EXPECT_THAT(status["conditions"][0]["message"].get<std::string>(),
              ::testing::HasSubstr("spec.mode"));
  EXPECT_EQ(status["matchedDeployments"], 0);
}

TEST_F(PolicyStatusReconcilerTest, TheYoungerOfTwoEquallySpecificPoliciesIsSuperseded) {
  put(*policies, policy_object("shop", "old", {{"mode", "Always"}}, "2026-01-01T00:00:00Z"));
  put(*policies, policy_object("shop", "new", {{"mode", "Never"}}, "2026-02-01T00:00:00Z"));
  const json status = written_status("shop", "new");
  EXPECT_EQ(status["conditions"][0]["reason"], "Superseded");
  EXPECT_THAT(status["conditions"][0]["message"].get<std::string>(),
              ::testing::HasSubstr("HealthProbePolicy shop/old"));
  EXPECT_EQ(written_status("shop", "old")["conditions"][0]["status"], "True");
}

TEST_F(PolicyStatusReconcilerTest, OtherConditionsAreKept) {
  json object = policy_object("shop", "all", {{"mode", "Always"}});
  object["status"]["conditions"] = json::array({{{"type", "Audited"}, {"status", "True"}}});
  put(*policies, object);
  const json status = written_status("shop", "all");
  ASSERT_EQ(status["conditions"].size(), 2u);
  EXPECT_EQ(status["conditions"][0]["type"], "Audited");
}

}  // namespace
}  // namespace meshprobe::controller
