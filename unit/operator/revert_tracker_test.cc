#include "operator/revert_tracker.h"

#include <gtest/gtest.h>

namespace meshprobe::controller {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

const RevertTracker::TimePoint kStart{};

TEST(RevertTracker, ThreeRevertsWithinTenMinutesNameTheLatestWriter) {
  RevertTracker tracker({3, minutes(10)});
  tracker.record_revert("ns/web", "argocd-controller", kStart);
  tracker.record_revert("ns/web", "argocd-controller", kStart + minutes(3));
  EXPECT_FALSE(tracker.conflicting_writer("ns/web", kStart + minutes(3)));
  tracker.record_revert("ns/web", "flux", kStart + minutes(6));
  EXPECT_EQ(tracker.conflicting_writer("ns/web", kStart + minutes(6)), "flux");
  EXPECT_FALSE(tracker.conflicting_writer("ns/other", kStart + minutes(6)));
}

TEST(RevertTracker, RevertsSpreadWiderThanTheWindowAreNoConflict) {
  RevertTracker tracker({3, minutes(10)});
  tracker.record_revert("ns/web", "kubectl", kStart);
  tracker.record_revert("ns/web", "kubectl", kStart + minutes(6));
  tracker.record_revert("ns/web", "kubectl", kStart + minutes(10) + seconds(1));
  EXPECT_FALSE(tracker.conflicting_writer("ns/web", kStart + minutes(10) + seconds(1)));
  tracker.record_revert("ns/web", "kubectl", kStart + minutes(12));
  EXPECT_EQ(tracker.conflicting_writer("ns/web", kStart + minutes(12)), "kubectl")
      << "the last three fall within ten minutes";
}

TEST(RevertTracker, ConflictEndsWhenTheWindowPassesAndOnForget) {
  RevertTracker tracker({3, minutes(10)});
  for (int i = 0; i < 3; ++i) tracker.record_revert("ns/web", "gitops", kStart + minutes(i));
  EXPECT_TRUE(tracker.conflicting_writer("ns/web", kStart + minutes(10)));
  EXPECT_FALSE(tracker.conflicting_writer("ns/web", kStart + minutes(11)));
  tracker.forget("ns/web");
  EXPECT_FALSE(tracker.conflicting_writer("ns/web", kStart + minutes(2)));
}

}  // namespace
}  // namespace meshprobe::controller
