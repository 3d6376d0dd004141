#pragma once

#include <gmock/gmock.h>

#include "kube/random.h"

namespace meshprobe::kube {

class MockRandom : public Random {
 public:
  MOCK_METHOD(double, uniform, (), (override));
};

}  // namespace meshprobe::kube
