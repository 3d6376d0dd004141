// Result<T>: a value or an error a person can read. Expected failures (bad input, an
// unresolvable port) are values, not exceptions; see ../../README.md "Error handling".
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace meshprobe {

struct Error {
  std::string message;
};

// E defaults to Error; a layer with richer errors (kube::ApiError) names its own type.
template <typename T, typename E = Error>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}          // NOLINT: implicit by design
  Result(E error) : state_(std::move(error)) {}          // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  const T& value() const& { assert(ok()); return std::get<T>(state_); }
  T& value() & { assert(ok()); return std::get<T>(state_); }
  T&& value() && { assert(ok()); return std::get<T>(std::move(state_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  const E& error() const { assert(!ok()); return std::get<E>(state_); }

 private:
  std::variant<T, E> state_;
};

}  // namespace meshprobe
