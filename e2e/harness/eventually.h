// Waiting for controllers: end-to-end tests observe real processes, so they poll against a
// real-time deadline (never a fixed sleep).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string_view>

namespace meshprobe::e2e {

// Polls `condition` every 200 ms until it succeeds or `timeout` has passed. The failure names
// `description` and the condition's last message.
::testing::AssertionResult eventually(std::string_view description,
                                      std::chrono::milliseconds timeout,
                                      const std::function<::testing::AssertionResult()>& condition);

// The same for a condition that returns bool.
template <typename Condition>
::testing::AssertionResult eventually(std::string_view description,
                                      std::chrono::milliseconds timeout, Condition condition) {
  return eventually(description, timeout, std::function<::testing::AssertionResult()>([&condition] {
                      return ::testing::AssertionResult(condition());
                    }));
}

}  // namespace meshprobe::e2e
