// A growable byte buffer that codecs encode into and reuse between
// iterations, so that a benchmark measures encoding, not page faults of a
// fresh allocation. Also std::streambuf adapters over it for the
// stream-based archives (cereal, Boost.Serialization).
#ifndef BRINE_BENCH_BYTE_BUFFER_H_
#define BRINE_BENCH_BYTE_BUFFER_H_

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <streambuf>

namespace brine::bench {

using Bytes = std::span<const std::byte>;

class ByteBuffer {
 public:
  void clear() { size_ = 0; }

  // Makes the buffer exactly `n` bytes long, contents unspecified, and
  // returns where to write them.
  std::byte* resize_for_overwrite(std::size_t n) {
    clear();
    reserve(n);
    size_ = n;
    return data_.get();
  }

  // The signature msgpack::packer expects of its stream.
  void write(const char* p, std::size_t n) {
    reserve(size_ + n);
    std::memcpy(data_.get() + size_, p, n);
    size_ += n;
  }

  Bytes bytes() const { return {data_.get(), size_}; }

 private:
  void reserve(std::size_t n) {
    if (n <= capacity_) return;
    std::size_t capacity = std::max(n, capacity_ * 2);
    auto grown = std::make_unique_for_overwrite<std::byte[]>(capacity);
    if (size_ != 0) std::memcpy(grown.get(), data_.get(), size_);
    data_ = std::move(grown);
    capacity_ = capacity;
  }

  std::unique_ptr<std::byte[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

// Appends everything written to the stream to a ByteBuffer.
class ByteBufferSink : public std::streambuf {
 public:
  explicit ByteBufferSink(ByteBuffer& out) : out_(out) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_.write(s, static_cast<std::size_t>(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    char ch = traits_type::to_char_type(c);
    out_.write(&ch, 1);
    return c;
  }

 private:
  ByteBuffer& out_;
};

// Reads a byte span in place; never writes to it.
class BytesSource : public std::streambuf {
 public:
  explicit BytesSource(Bytes in) {
    // std::streambuf wants char*, though a get area is only read.
    char* begin = const_cast<char*>(reinterpret_cast<const char*>(in.data()));
    setg(begin, begin, begin + in.size());
  }
};

}  // namespace brine::bench

#endif  // BRINE_BENCH_BYTE_BUFFER_H_
