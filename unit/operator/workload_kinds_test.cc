// The kind table: where each kind keeps its template, how its state is written, and how its
// rollout progress is read, on objects shaped as the API server serves them.
#include "operator/workload_kinds.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "operator/cluster_fixture.h"
#include "operator/cluster_state.h"

namespace meshprobe::controller {
namespace {

using nlohmann::json;

const WorkloadKind& kind(std::string_view name) {
  const WorkloadKind* row = find_workload_kind(name);
  EXPECT_NE(row, nullptr) << name;
  return *row;
}

bool finished(std::string_view kind_name, const json& object) {
  return kind(kind_name).read_progress(object).finished;
}

TEST(WorkloadKindsTest, TheTableNamesEveryKindWithItsResourceAndTemplate) {
  std::vector<std::string> names;
  for (const auto& row : workload_kinds()) names.emplace_back(row.kind);
  EXPECT_EQ(names, (std::vector<std::string>{"Deployment", "StatefulSet", "DaemonSet", "CronJob",
                                             "Rollout"}));
  EXPECT_EQ(kind("StatefulSet").resource.path("db", "pg", "status"),
            "/apis/apps/v1/namespaces/db/statefulsets/pg/status");
  EXPECT_EQ(kind("CronJob").resource.api_version(), "batch/v1");
  EXPECT_EQ(kind("Rollout").resource.api_version(), "argoproj.io/v1alpha1");
  EXPECT_TRUE(kind("Rollout").needs_discovery);
  EXPECT_FALSE(kind("DaemonSet").needs_discovery);
  EXPECT_EQ(template_pointer(kind("Deployment")), "/spec/template");
  EXPECT_EQ(template_pointer(kind("CronJob")), "/spec/jobTemplate/spec/template");
  EXPECT_EQ(kind("CronJob").status, StatusStyle::kAnnotations);
  // The StatefulSet controller rewrites its whole status, conditions included.
  EXPECT_EQ(kind("StatefulSet").status, StatusStyle::kAnnotations);
  EXPECT_EQ(kind("DaemonSet").status, StatusStyle::kApplyCondition);
  EXPECT_EQ(kind("Rollout").status, StatusStyle::kPatchConditionList);
  EXPECT_EQ(kind("StatefulSet").condition_shape, ConditionShape::kPlain);
  EXPECT_FALSE(kind("CronJob").rolls_out);
  EXPECT_EQ(find_workload_kind("Job"), nullptr);
  for (const auto& row : workload_kinds()) EXPECT_EQ(&workload_kinds()[kind_index(row)], &row);
}

TEST(WorkloadKindsTest, KeysCarryTheKind) {
  EXPECT_EQ(workload_key(kind("DaemonSet"), "mon/agent"), "DaemonSet/mon/agent");
  auto parsed = parse_workload_key("CronJob/batch/nightly");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->kind, &kind("CronJob"));
  EXPECT_EQ(parsed->object_key, "batch/nightly");
  EXPECT_FALSE(parse_workload_key("Job/batch/once").has_value());
  EXPECT_FALSE(parse_workload_key("shop").has_value());
}

TEST(WorkloadKindsTest, FindsTheTemplateWhereTheKindKeepsIt) {
  const json cron_job = {
      {"spec", {{"jobTemplate", {{"spec", {{"template", {{"metadata", json::object()}}}}}}}}}};
  ASSERT_NE(find_pod_template(cron_job, kind("CronJob")), nullptr);
  EXPECT_EQ(find_pod_template(cron_job, kind("Deployment")), nullptr);
  // A Rollout with workloadRef has no template of its own.
  const json referring = {{"spec", {{"workloadRef", {{"kind", "Deployment"}, {"name", "web"}}}}}};
  EXPECT_EQ(find_pod_template(referring, kind("Rollout")), nullptr);
}

TEST(RolloutProgressTest, DeploymentFinishesWhenObservedUpdatedAndAvailable) {
  json object = {{"metadata", {{"generation", 3}}},
                 {"spec", {{"replicas", 2}}},
                 {"status",
                  {{"observedGeneration", 3},
                   {"replicas", 2},
                   {"updatedReplicas", 2},
                   {"availableReplicas", 2}}}};
  EXPECT_TRUE(finished("Deployment", object));
  object["status"]["observedGeneration"] = 2;
  EXPECT_FALSE(finished("Deployment", object));  // the controller has not seen the new spec
  object["status"]["observedGeneration"] = 3;
  object["status"]["replicas"] = 3;  // an old Pod still terminating
  EXPECT_FALSE(finished("Deployment", object));
  object["status"]["replicas"] = 2;
  object["status"]["availableReplicas"] = 1;
  EXPECT_FALSE(finished("Deployment", object));
  EXPECT_FALSE(finished("Deployment", {{"metadata", {{"generation", 1}}}}));  // no status yet
}

TEST(RolloutProgressTest, StatefulSetNeedsEveryReplicaReadyOnTheUpdateRevision) {
  json object = {{"metadata", {{"generation", 2}}},
                 {"spec", {{"replicas", 3}}},
                 {"status",
                  {{"observedGeneration", 2},
                   {"readyReplicas", 3},
                   {"updatedReplicas", 3},
                   {"currentRevision", "db-2"},
                   {"updateRevision", "db-2"}}}};
  EXPECT_TRUE(finished("StatefulSet", object));
  object["status"]["currentRevision"] = "db-1";
  EXPECT_FALSE(finished("StatefulSet", object));
  // With a partition, only the Pods at or above it roll.
  object["spec"]["updateStrategy"] = {{"type", "RollingUpdate"},
                                      {"rollingUpdate", {{"partition", 2}}}};
  object["status"]["updatedReplicas"] = 1;
  EXPECT_TRUE(finished("StatefulSet", object));
}

// kubernetes/kubernetes: with OrderedReady the StatefulSet controller replaces Pods only while
// every one is Ready (the "forced rollback" of its documentation).
TEST(RolloutProgressTest, AnOrderedReadyStatefulSetWithPodsNotReadyWaitsForThem) {
  const auto waits = [](const json& object) {
    return kind("StatefulSet").read_progress(object).waits_for_unready_pods;
  };
  json object = {{"metadata", {{"generation", 2}}},
                 {"spec", {{"replicas", 3}}},
                 {"status", {{"observedGeneration", 2}, {"readyReplicas", 2}}}};
  EXPECT_TRUE(waits(object));
  object["spec"]["updateStrategy"] = {{"type", "RollingUpdate"},
                                      {"rollingUpdate", {{"partition", 1}}}};
  EXPECT_TRUE(waits(object));
  object["status"].erase("observedGeneration");  // not observed yet: nothing is Ready either
  EXPECT_TRUE(waits(object));
  object["status"]["readyReplicas"] = 3;
  EXPECT_FALSE(waits(object));
  object["status"]["readyReplicas"] = 0;
  object["spec"]["podManagementPolicy"] = "Parallel";
  EXPECT_FALSE(waits(object));
  object["spec"]["podManagementPolicy"] = "OrderedReady";
  object["spec"]["updateStrategy"] = {{"type", "OnDelete"}};
  EXPECT_FALSE(waits(object));  // nothing rolls anyway (kOnDeleteNote says so)
  // Only a StatefulSet's controller waits like this.
  object["spec"].erase("updateStrategy");
  EXPECT_FALSE(kind("Deployment").read_progress(object).waits_for_unready_pods);
  EXPECT_FALSE(kind("DaemonSet").read_progress(object).waits_for_unready_pods);
}

TEST(RolloutProgressTest, DaemonSetNeedsEveryScheduledPodUpdatedAndAvailable) {
  json object = {{"metadata", {{"generation", 5}}},
                 {"status",
                  {{"observedGeneration", 5},
                   {"desiredNumberScheduled", 4},
                   {"updatedNumberScheduled", 4},
                   {"numberAvailable", 4}}}};
  EXPECT_TRUE(finished("DaemonSet", object));
  object["status"]["numberAvailable"] = 3;
  EXPECT_FALSE(finished("DaemonSet", object));
}

TEST(RolloutProgressTest, ACronJobHasNoRolloutAndARolloutReadsItsTextGeneration) {
  EXPECT_TRUE(finished("CronJob", json::object()));
  json rollout = {{"metadata", {{"generation", 4}}},
                  {"spec", {{"replicas", 2}}},
                  {"status",
                   {{"observedGeneration", "4"},  // Argo Rollouts writes it as text
                    {"updatedReplicas", 2},
                    {"availableReplicas", 2}}}};
  EXPECT_TRUE(finished("Rollout", rollout));
  rollout["status"]["observedGeneration"] = "3";
  EXPECT_FALSE(finished("Rollout", rollout));
}

TEST(ProjectWorkloadTest, ReadsOwnerStrategyConditionIndexAndTheCronJobsAnnotations) {
  json stateful_set = deployment_object("db", "pg", "4", http_liveness_pod_spec());
  stateful_set["kind"] = "StatefulSet";
  stateful_set["metadata"]["ownerReferences"] = json::array({{{"kind", "Other"}, {"name", "x"}},
                                                             {{"apiVersion", "acid.zalan.do/v1"},
                                                              {"kind", "postgresql"},
                                                              {"name", "pg"},
                                                              {"controller", true}}});
  stateful_set["spec"]["updateStrategy"] = {{"type", "OnDelete"}};
  const WorkloadState state = project_workload(stateful_set, kind("DaemonSet"), kTestAgentPort);
  EXPECT_EQ(state.controller_owner, "postgresql/pg");
  EXPECT_TRUE(state.update_on_delete);
  EXPECT_TRUE(state.has_template);
  EXPECT_TRUE(state.has_status);
  EXPECT_FALSE(state.has_conditions);
  // A Deployment has no update strategy of that name: the field is not read.
  stateful_set["spec"]["updateStrategy"] = {{"type", "OnDelete"}};
  EXPECT_FALSE(project_workload(stateful_set, kind("Deployment"), kTestAgentPort).update_on_delete);

  json rollout = deployment_object("shop", "web", "4", http_liveness_pod_spec());
  rollout["status"]["conditions"] =
      json::array({{{"type", "Progressing"}}, {{"type", "HealthProbesRewritten"}}});
  const WorkloadState rollout_state = project_workload(rollout, kind("Rollout"), kTestAgentPort);
  EXPECT_EQ(rollout_state.condition_index, 1);
  EXPECT_TRUE(rollout_state.has_conditions);

  json cron_job = {
      {"metadata",
       {{"namespace", "batch"},
        {"name", "nightly"},
        {"annotations",
         {{"meshprobe.io/health-probes-rewritten", "True"},
          {"meshprobe.io/health-probes-reason", "Rewritten"},
          {"meshprobe.io/health-probes-message", "m"},
          {"meshprobe.io/health-probes-last-transition-time", "2026-01-01T00:00:00Z"}}}}},
      {"spec",
       {{"jobTemplate", {{"spec", {{"template", {{"spec", http_liveness_pod_spec()}}}}}}}}}};
  const WorkloadState cron_state = project_workload(cron_job, kind("CronJob"), kTestAgentPort);
  EXPECT_TRUE(cron_state.has_template);
  EXPECT_EQ(cron_state.pod_template.decode()["spec"], http_liveness_pod_spec());
  EXPECT_EQ(cron_state.condition.decode(), (json{{"type", "HealthProbesRewritten"},
                                                 {"status", "True"},
                                                 {"reason", "Rewritten"},
                                                 {"message", "m"},
                                                 {"lastTransitionTime", "2026-01-01T00:00:00Z"}}));
}

TEST(SummarizeManagedFieldsTest, FollowsTheKindsTemplatePath) {
  const json containers = {{"k:{\"name\":\"web\"}", {{"f:livenessProbe", json::object()}}}};
  const json job_template = {
      {"f:spec", {{"f:template", {{"f:spec", {{"f:containers", containers}}}}}}}};
  const json managed =
      json::array({{{"manager", "argocd-controller"},
                    {"operation", "Apply"},
                    {"time", "2026-01-01T00:00:01Z"},
                    {"fieldsV1", {{"f:spec", {{"f:jobTemplate", job_template}}}}}}});
  const auto summary =
      summarize_managed_fields(managed, {"spec", "jobTemplate", "spec", "template"});
  ASSERT_EQ(summary.size(), 1u);
  EXPECT_TRUE(summary[0].owns_probe_fields);
  EXPECT_TRUE(summarize_managed_fields(managed, {"spec", "template"}).empty());
}

}  // namespace
}  // namespace meshprobe::controller
