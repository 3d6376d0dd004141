#pragma once

#include <gmock/gmock.h>

#include "agent/probers.h"

namespace meshprobe::agent {

class MockHttpProber : public HttpProber {
 public:
  MOCK_METHOD(void, probe,
              (const probe::HttpGetAction& action, std::chrono::seconds timeout,
               std::string user_agent, ProbeCallback done),
              (override));
};

class MockTcpProber : public TcpProber {
 public:
  MOCK_METHOD(void, probe,
              (const probe::TcpSocketAction& action, std::chrono::seconds timeout,
               ProbeCallback done),
              (override));
};

class MockGrpcProber : public GrpcProber {
 public:
  MOCK_METHOD(void, probe,
              (const probe::GrpcAction& action, std::chrono::seconds timeout,
               std::string user_agent, ProbeCallback done),
              (override));
};

}  // namespace meshprobe::agent
