// Decoding a watch response: the API server sends one JSON event per line, but the network
// delivers bytes in arbitrary pieces (an event split over several reads, several events in
// one). LineFramer reassembles lines; DecodingWatchStream turns them into WatchEvents.
#pragma once

#include <cstddef>
#include <deque>
#include <string>

#include "kube/api.h"
#include "kube/transport.h"

namespace meshprobe::kube {

class LineFramer {
 public:
  // A single line longer than this is an error (a bound on memory): larger than any object
  // the API server accepts (etcd's default limit is 1.5 MiB) with room for JSON escaping.
  static constexpr std::size_t kMaximumLine = 16 * 1024 * 1024;

  // Adds bytes; false when a line grew beyond kMaximumLine.
  bool append(const std::string& bytes);
  // The next complete line without its newline, or nothing.
  std::optional<std::string> next_line();
  // Bytes of an unfinished line.
  std::size_t pending() const { return partial_.size(); }

 private:
  std::string partial_;
  std::deque<std::string> lines_;
};

// Decodes one watch event line ({"type": ..., "object": ...}). ERROR events become errors.
ApiResult<WatchEvent> decode_watch_event(const std::string& line, const std::string& request);

class DecodingWatchStream final : public WatchStream {
 public:
  DecodingWatchStream(BodyStreamPtr body, std::string request);
  ApiResult<std::optional<WatchEvent>> next() override;
  void cancel() override { body_->cancel(); }

 private:
  BodyStreamPtr body_;
  std::string request_;
  LineFramer framer_;
};

}  // namespace meshprobe::kube
