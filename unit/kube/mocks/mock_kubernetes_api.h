// The operator's unit tests mock the API here (the seam above the REST client).
#pragma once

#include <gmock/gmock.h>

#include "kube/api.h"

namespace meshprobe::kube {

class MockKubernetesApi : public KubernetesApi {
 public:
  MOCK_METHOD(ApiResult<nlohmann::json>, get,
              (const ResourceType& type, const std::string& namespace_name, const std::string& name,
               const std::string& subresource),
              (override));
  MOCK_METHOD(ApiResult<ObjectList>, list,
              (const ResourceType& type, const std::string& namespace_name,
               const ListOptions& options),
              (override));
  MOCK_METHOD(ApiResult<nlohmann::json>, create,
              (const ResourceType& type, const std::string& namespace_name,
               const nlohmann::json& object, const WriteOptions& options),
              (override));
  MOCK_METHOD(ApiResult<nlohmann::json>, update,
              (const ResourceType& type, const std::string& namespace_name,
               const nlohmann::json& object, const WriteOptions& options),
              (override));
  MOCK_METHOD(ApiResult<nlohmann::json>, patch,
              (const ResourceType& type, const std::string& namespace_name, const std::string& name,
               PatchType patch_type, const std::string& body, const PatchOptions& options),
              (override));
  MOCK_METHOD(ApiStatus, remove,
              (const ResourceType& type, const std::string& namespace_name, const std::string& name,
               const DeleteOptions& options),
              (override));
  MOCK_METHOD(ApiResult<WatchStreamPtr>, watch,
              (const ResourceType& type, const std::string& namespace_name,
               const WatchOptions& options),
              (override));
  MOCK_METHOD(ApiResult<nlohmann::json>, get_path, (const std::string& path), (override));
};

class MockWatchStream : public WatchStream {
 public:
  MOCK_METHOD(ApiResult<std::optional<WatchEvent>>, next, (), (override));
  MOCK_METHOD(void, cancel, (), (override));
};

}  // namespace meshprobe::kube
