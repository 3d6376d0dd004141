#include "kube/watch_decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube/mocks/mock_transport.h"

namespace meshprobe::kube {
namespace {

using ::testing::Return;

const std::string kAdded =
    R"({"type":"ADDED","object":{"kind":"Namespace","metadata":{"name":"a","resourceVersion":"5"}}})";
const std::string kBookmark =
    R"({"type":"BOOKMARK","object":{"kind":"Namespace","metadata":{"resourceVersion":"9"}}})";
const std::string kDeleted =
    R"({"type":"DELETED","object":{"kind":"Namespace","metadata":{"name":"a","resourceVersion":"10"}}})";

// Every way to cut the three-event stream into two or three reads must give the same events.
TEST(LineFramerTest, ReassemblesEventsWhateverTheChunkBoundaries) {
  const std::string stream = kAdded + "\n" + kBookmark + "\r\n" + kDeleted + "\n";
  for (std::size_t first = 0; first <= stream.size(); first += 7) {
    for (std::size_t second = first; second <= stream.size(); second += 13) {
      LineFramer framer;
      ASSERT_TRUE(framer.append(stream.substr(0, first)));
      ASSERT_TRUE(framer.append(stream.substr(first, second - first)));
      ASSERT_TRUE(framer.append(stream.substr(second)));
      EXPECT_EQ(framer.next_line(), kAdded);
      EXPECT_EQ(framer.next_line(), kBookmark);
      EXPECT_EQ(framer.next_line(), kDeleted);
      EXPECT_EQ(framer.next_line(), std::nullopt);
      EXPECT_EQ(framer.pending(), 0u);
    }
  }
}

TEST(LineFramerTest, KeepsAnUnfinishedLineUntilItsNewline) {
  LineFramer framer;
  framer.append("{\"a\":");
  EXPECT_EQ(framer.next_line(), std::nullopt);
  EXPECT_EQ(framer.pending(), 5u);
  framer.append("1}\n\n");
  EXPECT_EQ(framer.next_line(), "{\"a\":1}");
  EXPECT_EQ(framer.next_line(), std::nullopt) << "empty lines are skipped";
}

TEST(LineFramerTest, RefusesALineBeyondTheBound) {
  LineFramer framer;
  EXPECT_FALSE(framer.append(std::string(LineFramer::kMaximumLine + 1, 'x')));
}

TEST(DecodeWatchEventTest, DecodesTypesAndRejectsGarbage) {
  auto added = decode_watch_event(kAdded, "w");
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(added->type, WatchEventType::kAdded);
  EXPECT_EQ(added->object["metadata"]["name"], "a");
  EXPECT_EQ(decode_watch_event(kBookmark, "w")->type, WatchEventType::kBookmark);
  EXPECT_EQ(decode_watch_event("{\"type\":\"SURPRISE\",\"object\":{}}", "w").error().kind,
            ApiErrorKind::kDecode);
  EXPECT_EQ(decode_watch_event("not json", "w").error().kind, ApiErrorKind::kDecode);
  auto gone = decode_watch_event(
      R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}})",
      "w");
  EXPECT_EQ(gone.error().kind, ApiErrorKind::kGone);
}

TEST(DecodingWatchStreamTest, EventsSplitAcrossReadsAndSeveralInOneRead) {
  auto body = std::make_unique<MockBodyStream>();
  const std::string all = kAdded + "\n" + kBookmark + "\n" + kDeleted + "\n";
  const std::size_t cut = kAdded.size() / 2;
  EXPECT_CALL(*body, read())
      .WillOnce(Return(ApiResult<std::string>(all.substr(0, cut))))
      .WillOnce(Return(ApiResult<std::string>(all.substr(cut))))
      .WillOnce(Return(ApiResult<std::string>(std::string())));
  DecodingWatchStream stream(std::move(body), "GET /api/v1/namespaces?watch=1");
  std::vector<WatchEventType> types;
  while (true) {
    auto event = stream.next();
    ASSERT_TRUE(event.ok()) << event.error().message();
    if (!event->has_value()) break;
    types.push_back((*event)->type);
  }
  EXPECT_EQ(types, (std::vector<WatchEventType>{WatchEventType::kAdded, WatchEventType::kBookmark,
                                                WatchEventType::kDeleted}));
}

TEST(DecodingWatchStreamTest, AStreamThatEndsInsideAnEventIsAnError) {
  auto body = std::make_unique<MockBodyStream>();
  EXPECT_CALL(*body, read())
      .WillOnce(Return(ApiResult<std::string>(kAdded.substr(0, 10))))
      .WillOnce(Return(ApiResult<std::string>(std::string())));
  DecodingWatchStream stream(std::move(body), "w");
  auto event = stream.next();
  ASSERT_FALSE(event.ok());
  EXPECT_EQ(event.error().kind, ApiErrorKind::kTransport);
}

}  // namespace
}  // namespace meshprobe::kube
