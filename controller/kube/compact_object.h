// How a cache keeps a whole object (or a large part of one) small: MessagePack, compressed with
// zlib, optionally against a preset dictionary of what objects of that kind hold. The
// benchmark's rewritten pod template (2.4 kB of JSON) is 2 kB of MessagePack, 0.9 kB deflated
// and 0.15 kB deflated against the operator's dictionary (most of it is the agent and fields the
// API server defaults); a parsed nlohmann::json of it takes several times its text
// (docs/benchmarks.md).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace meshprobe::kube {

// Bytes that objects of one kind often contain (zlib's preset dictionary: the compressor may
// refer back into it as if it preceded each object). Lives as long as every CompactObject
// encoded with it: in practice, a static of the projection that uses it.
class CompressionDictionary {
 public:
  explicit CompressionDictionary(std::string bytes);
  std::string_view bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

// 24 bytes and one exact allocation: a cache holds one or two per object.
class CompactObject {
 public:
  CompactObject() = default;  // decodes to null
  CompactObject(const CompactObject& other);
  CompactObject& operator=(const CompactObject& other);
  CompactObject(CompactObject&&) noexcept = default;
  CompactObject& operator=(CompactObject&&) noexcept = default;

  static CompactObject encode(const nlohmann::json& object,
                              const CompressionDictionary* dictionary = nullptr);
  nlohmann::json decode() const;
  std::size_t size() const { return size_; }  // compressed bytes

 private:
  std::unique_ptr<std::uint8_t[]> bytes_;  // zlib stream of the MessagePack; null: null
  std::uint32_t size_ = 0;
  std::uint32_t decoded_size_ = 0;  // of the MessagePack
  const CompressionDictionary* dictionary_ = nullptr;
};

CompactObject project_compact(const nlohmann::json& object);

}  // namespace meshprobe::kube
