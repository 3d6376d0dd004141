#pragma once

#include <gmock/gmock.h>

#include <deque>
#include <mutex>

#include "kube/transport.h"

namespace meshprobe::kube {

class MockTransport : public Transport {
 public:
  MOCK_METHOD(ApiResult<HttpResponse>, send, (const HttpRequest& request), (override));
  MOCK_METHOD(ApiResult<StreamingResponse>, open_stream, (const HttpRequest& request), (override));
};

class MockBodyStream : public BodyStream {
 public:
  MOCK_METHOD(ApiResult<std::string>, read, (), (override));
  MOCK_METHOD(void, cancel, (), (override));
};

}  // namespace meshprobe::kube
