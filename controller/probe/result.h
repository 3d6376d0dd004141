// Result<T>: a value or an error a person can read. Expected failures (bad input, an
// unresolvable port) are values, not exceptions; see docs/architecture.md "Layers".
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace meshprobe {

struct Error {
  std::string message;
};

// `text` for an error message, with control bytes escaped (\n, \x1b, ...): whatever the
// input held, the message stays one printable line.
inline std::string printable_for_message(std::string_view text, bool escape_quotes = false) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (escape_quotes && (c == '"' || c == '\\')) {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (byte < 0x20 || byte == 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

// The same in double quotes, quotes and backslashes inside escaped.
inline std::string quoted_for_message(std::string_view text) {
  return "\"" + printable_for_message(text, true) + "\"";
}

// E defaults to Error; a layer with richer errors (kube::ApiError) names its own type.
template <typename T, typename E = Error>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Result(E error) : state_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  const T& value() const& {
    assert(ok());
    return std::get<T>(state_);
  }
  T& value() & {
    assert(ok());
    return std::get<T>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(state_));
  }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  const E& error() const {
    assert(!ok());
    return std::get<E>(state_);
  }

 private:
  std::variant<T, E> state_;
};

}  // namespace meshprobe
