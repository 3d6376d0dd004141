// libFuzzer: the body of a watch response, as the network may cut it. Input: the first byte
// chooses how the body is cut into reads (lengths 1..16, cycling), the rest is the body. The
// decoder must never throw or crash, and must see the same events and the same error whether
// the body comes in one read or in pieces.
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "kube/watch_decoder.h"

namespace {

using namespace meshprobe::kube;

// The body, in reads of the given lengths (cycled); then the end.
class CutBody final : public BodyStream {
 public:
  CutBody(std::string_view body, std::vector<std::size_t> lengths)
      : body_(body), lengths_(std::move(lengths)) {}
  ApiResult<std::string> read() override {
    const std::size_t length = std::min(lengths_[reads_++ % lengths_.size()], body_.size());
    std::string bytes(body_.substr(0, length));
    body_.remove_prefix(length);
    return bytes;
  }
  void cancel() override {}

 private:
  std::string_view body_;
  std::vector<std::size_t> lengths_;
  std::size_t reads_ = 0;
};

// What a consumer sees: the events, then how the stream ended.
struct Decoded {
  std::vector<WatchEvent> events;
  std::optional<ApiError> error;  // empty: a clean end
};

Decoded decode(std::string_view body, std::vector<std::size_t> lengths) {
  DecodingWatchStream stream(std::make_unique<CutBody>(body, std::move(lengths)),
                             "WATCH /api/v1/namespaces");
  Decoded decoded;
  for (;;) {
    auto next = stream.next();
    if (!next) {
      decoded.error = next.error();
      return decoded;
    }
    if (!*next) return decoded;
    if (!(*next)->object.is_object()) {
      std::cerr << "invariant broken: an event whose object is not an object\n";
      std::abort();
    }
    decoded.events.push_back(std::move(**next));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::vector<std::size_t> lengths;
  for (int bit = 0; bit < 8; bit += 2)
    lengths.push_back(1 + ((data[0] >> bit) & 3) * 5);  // 1, 6, 11 or 16
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);

  const Decoded whole = decode(body, {std::max<std::size_t>(body.size(), 1)});
  const Decoded cut = decode(body, lengths);
  bool same =
      whole.events.size() == cut.events.size() && whole.error.has_value() == cut.error.has_value();
  for (std::size_t i = 0; same && i < whole.events.size(); ++i) {
    same = whole.events[i].type == cut.events[i].type &&
           whole.events[i].object == cut.events[i].object;
  }
  if (same && whole.error)
    same = whole.error->kind == cut.error->kind && whole.error->message() == cut.error->message();
  if (!same) {
    std::cerr << "invariant broken: the events depend on how the body was cut\n";
    std::abort();
  }
  return 0;
}
