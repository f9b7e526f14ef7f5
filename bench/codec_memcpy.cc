// The floor: a hand-written length-prefixed layout, written and read with
// memcpy, bounds-checked on read like any decoder of untrusted bytes.
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "codec.h"

namespace brine::bench {
namespace {

class RawWriter {
 public:
  explicit RawWriter(ByteBuffer& out) : out_(out) {}

  void put(const Arithmetic auto& v) { raw(&v, sizeof v); }
  void put(const std::string& s) {
    put(static_cast<std::uint64_t>(s.size()));
    raw(s.data(), s.size());
  }
  template <Arithmetic T>
  void put(const std::vector<T>& values) {
    put(static_cast<std::uint64_t>(values.size()));
    raw(values.data(), values.size() * sizeof(T));
  }
  template <Described T>
  void put(const std::vector<T>& values) {
    put(static_cast<std::uint64_t>(values.size()));
    for (const T& v : values) put(v);
  }
  template <PlainDescribed T>  // plain structs: one block
  void put(const std::vector<T>& values) {
    put(static_cast<std::uint64_t>(values.size()));
    raw(values.data(), values.size() * sizeof(T));
  }
  void put(const Described auto& value) {
    std::apply([this](const auto&... f) { (this->put(f), ...); }, fields(value));
  }

 private:
  void raw(const void* p, std::size_t n) { out_.write(static_cast<const char*>(p), n); }

  ByteBuffer& out_;
};

class RawReader {
 public:
  explicit RawReader(Bytes in) : in_(in) {}

  void get(Arithmetic auto& v) { std::memcpy(&v, take(sizeof v), sizeof v); }
  void get(std::string& s) {
    std::size_t n = count(1);
    s.assign(reinterpret_cast<const char*>(take(n)), n);
  }
  template <Arithmetic T>
  void get(std::vector<T>& values) {
    std::size_t n = count(sizeof(T));
    values.resize(n);
    std::memcpy(values.data(), take(n * sizeof(T)), n * sizeof(T));
  }
  template <Described T>
  void get(std::vector<T>& values) {
    values.resize(count(1));
    for (T& v : values) get(v);
  }
  template <PlainDescribed T>
  void get(std::vector<T>& values) {
    std::size_t n = count(sizeof(T));
    values.resize(n);
    std::memcpy(values.data(), take(n * sizeof(T)), n * sizeof(T));
  }
  void get(Described auto& value) {
    std::apply([this](auto&... f) { (this->get(f), ...); }, fields(value));
  }

 private:
  // Reads a length and checks that that many elements can still follow.
  std::size_t count(std::size_t min_element_size) {
    std::uint64_t n = 0;
    get(n);
    if (n > (in_.size() - pos_) / min_element_size) throw std::runtime_error("memcpy: length out of bounds");
    return static_cast<std::size_t>(n);
  }
  const std::byte* take(std::size_t n) {
    if (n > in_.size() - pos_) throw std::runtime_error("memcpy: truncated input");
    const std::byte* p = in_.data() + pos_;
    pos_ += n;
    return p;
  }

  Bytes in_;
  std::size_t pos_ = 0;
};

template <class P>
class MemcpyCodec {
 public:
  static constexpr std::string_view kName = "memcpy";

  Bytes encode(const P& payload) {
    buffer_.clear();
    RawWriter(buffer_).put(payload);
    return buffer_.bytes();
  }

  std::uint64_t decode(Bytes encoded) {
    RawReader(encoded).get(decoded_);
    return digest_of(decoded_);
  }

 private:
  ByteBuffer buffer_;
  P decoded_;
};

}  // namespace

void register_memcpy_codec() {
  register_codec<MemcpyCodec>();
  register_codec_for<MemcpyCodec, RecordStructs, Graph>();
}

}  // namespace brine::bench
