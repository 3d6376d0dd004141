#include "harness/eventually.h"

#include <thread>

namespace meshprobe::e2e {

::testing::AssertionResult eventually(
    std::string_view description, std::chrono::milliseconds timeout,
    const std::function<::testing::AssertionResult()>& condition) {
  constexpr std::chrono::milliseconds kPollInterval{200};
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + timeout;
  while (true) {
    ::testing::AssertionResult result = condition();
    if (result) return result;
    if (std::chrono::steady_clock::now() >= deadline) {
      auto failure = ::testing::AssertionFailure()
                     << "timed out after " << timeout.count() << " ms waiting for " << description;
      if (*result.message() != '\0') failure << "; last check: " << result.message();
      return failure;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

}  // namespace meshprobe::e2e
