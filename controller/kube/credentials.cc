#include "kube/credentials.h"

#include <fstream>
#include <sstream>

namespace meshprobe::kube {
namespace {

constexpr std::chrono::minutes kTokenFileRefresh{1};

}  // namespace

BearerToken::BearerToken(std::string token, std::string token_file, Clock& clock)
    : token_(std::move(token)), token_file_(std::move(token_file)), clock_(clock) {}

meshprobe::Result<std::string> BearerToken::current() {
  if (token_file_.empty()) return token_;
  std::lock_guard lock(mutex_);
  const MonotonicTime now = clock_.now();
  if (fresh_ && now - read_at_ < kTokenFileRefresh) return cached_;
  std::ifstream file(token_file_);
  std::ostringstream contents;
  if (!file || !(contents << file.rdbuf())) {
    // Keep using the last good token while the file is being replaced.
    if (!cached_.empty()) return cached_;
    return meshprobe::Error{"cannot read token file " + token_file_};
  }
  std::string token = contents.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  cached_ = std::move(token);
  read_at_ = now;
  fresh_ = true;
  return cached_;
}

void BearerToken::invalidate() {
  std::lock_guard lock(mutex_);
  fresh_ = false;
}

}  // namespace meshprobe::kube
