#include "kube/compact_object.h"

#include <zlib.h>

#include <cstring>
#include <new>
#include <stdexcept>

namespace meshprobe::kube {
namespace {

constexpr int kWindowBits = 13;

// One deflate and one inflate state per thread, reset for each object: setting one up allocates
// and clears far more memory than compressing a pod template touches.
struct Deflater {
  z_stream stream{};
  Deflater() {
    // Small objects: an 8 kB window (windowBits 13) and memLevel 6 compress them as well as
    // zlib's defaults do, with 64 kB of state per thread instead of 256 kB.
    if (deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, kWindowBits, 6, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
      throw std::bad_alloc();
    }
  }
  ~Deflater() { deflateEnd(&stream); }
};

struct Inflater {
  z_stream stream{};
  Inflater() {
    if (inflateInit(&stream) != Z_OK) throw std::bad_alloc();
  }
  ~Inflater() { inflateEnd(&stream); }
};

Bytef* to_bytef(const void* data) { return reinterpret_cast<Bytef*>(const_cast<void*>(data)); }

}  // namespace

CompressionDictionary::CompressionDictionary(std::string bytes) : bytes_(std::move(bytes)) {
  // The compressor only reaches back one window: a longer dictionary would be partly unused.
  if (bytes_.size() > (std::size_t{1} << kWindowBits)) {
    throw std::invalid_argument("a compression dictionary holds at most 8 kB");
  }
}

CompactObject::CompactObject(const CompactObject& other)
    : bytes_(other.size_ ? std::make_unique_for_overwrite<std::uint8_t[]>(other.size_) : nullptr),
      size_(other.size_),
      decoded_size_(other.decoded_size_),
      dictionary_(other.dictionary_) {
  if (size_) std::memcpy(bytes_.get(), other.bytes_.get(), size_);
}

CompactObject& CompactObject::operator=(const CompactObject& other) {
  if (this != &other) *this = CompactObject(other);
  return *this;
}

namespace {
// A thread keeps its deflate buffer up to this size; larger ones (a rare large object) go.
constexpr std::size_t kScratchKept = 64 * 1024;
}  // namespace

CompactObject CompactObject::encode(const nlohmann::json& object,
                                    const CompressionDictionary* dictionary) {
  CompactObject compact;
  if (object.is_null()) return compact;
  const std::vector<std::uint8_t> packed = nlohmann::json::to_msgpack(object);
  thread_local Deflater deflater;
  z_stream& stream = deflater.stream;
  deflateReset(&stream);
  if (dictionary != nullptr) {
    const auto bytes = dictionary->bytes();
    deflateSetDictionary(&stream, to_bytef(bytes.data()), static_cast<uInt>(bytes.size()));
  }
  // Deflated into a buffer of the bound's size, then kept in one allocation of the exact size.
  thread_local std::vector<std::uint8_t> scratch;
  scratch.resize(deflateBound(&stream, static_cast<uLong>(packed.size())));
  stream.next_in = to_bytef(packed.data());
  stream.avail_in = static_cast<uInt>(packed.size());
  stream.next_out = scratch.data();
  stream.avail_out = static_cast<uInt>(scratch.size());
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END)
    throw std::logic_error("deflate: output larger than its bound");
  compact.size_ = static_cast<std::uint32_t>(stream.total_out);
  compact.bytes_ = std::make_unique_for_overwrite<std::uint8_t[]>(compact.size_);
  std::memcpy(compact.bytes_.get(), scratch.data(), compact.size_);
  if (scratch.capacity() > kScratchKept) std::vector<std::uint8_t>().swap(scratch);
  compact.decoded_size_ = static_cast<std::uint32_t>(packed.size());
  compact.dictionary_ = dictionary;
  return compact;
}

nlohmann::json CompactObject::decode() const {
  if (size_ == 0) return nullptr;
  thread_local Inflater inflater;
  z_stream& stream = inflater.stream;
  inflateReset(&stream);
  std::vector<std::uint8_t> packed(decoded_size_);
  stream.next_in = to_bytef(bytes_.get());
  stream.avail_in = static_cast<uInt>(size_);
  stream.next_out = packed.data();
  stream.avail_out = static_cast<uInt>(packed.size());
  int status = inflate(&stream, Z_FINISH);
  if (status == Z_NEED_DICT && dictionary_ != nullptr) {
    const auto bytes = dictionary_->bytes();
    inflateSetDictionary(&stream, to_bytef(bytes.data()), static_cast<uInt>(bytes.size()));
    status = inflate(&stream, Z_FINISH);
  }
  // Only this class writes the bytes: anything else is a bug, not bad input.
  if (status != Z_STREAM_END || stream.total_out != decoded_size_) {
    throw std::logic_error("CompactObject: the stored bytes do not inflate");
  }
  return nlohmann::json::from_msgpack(packed);
}

CompactObject project_compact(const nlohmann::json& object) {
  return CompactObject::encode(object);
}

}  // namespace meshprobe::kube
