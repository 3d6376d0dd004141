// BearerToken: the token sent with each request. A token file (in-cluster service accounts,
// kubeconfig tokenFile) is re-read once a minute, as client-go does, so a rotated token is
// used without a restart; a 401 forces a re-read on the next request.
#pragma once

#include <mutex>
#include <string>

#include "kube/clock.h"
#include "probe/result.h"

namespace meshprobe::kube {

class BearerToken {
 public:
  // Either a fixed token or a file (the file wins when both are set, as in client-go).
  BearerToken(std::string token, std::string token_file, Clock& clock);

  // The token to send now; empty when there is none. An error when the file is unreadable.
  meshprobe::Result<std::string> current();
  // The server rejected the token: read the file again next time.
  void invalidate();

 private:
  std::string token_;
  std::string token_file_;
  Clock& clock_;
  std::mutex mutex_;
  std::string cached_;
  MonotonicTime read_at_{};
  bool fresh_ = false;
};

}  // namespace meshprobe::kube
