#pragma once

#include <gmock/gmock.h>

#include "agent/logger.h"

namespace meshprobe::agent {

class MockLogger : public Logger {
 public:
  MOCK_METHOD(void, log,
              (LogLevel level, std::string_view message, const std::vector<LogField>& fields),
              (override));
};

}  // namespace meshprobe::agent
