#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>

#include "codec.h"

namespace brine::bench {

template <class Archive>
void serialize(Archive& archive, Described auto& value, unsigned int /*version*/) {
  std::apply([&archive](auto&... f) { (archive & ... & f); }, fields(value));
}

namespace {

template <class P>
class BoostCodec {
 public:
  static constexpr std::string_view kName = "boost";

  Bytes encode(const P& payload) {
    buffer_.clear();
    ByteBufferSink sink(buffer_);
    boost::archive::binary_oarchive archive(sink);
    archive << payload;
    return buffer_.bytes();
  }

  std::uint64_t decode(Bytes encoded) {
    BytesSource source(encoded);
    boost::archive::binary_iarchive archive(source);
    archive >> decoded_;
    return digest_of(decoded_);
  }

 private:
  ByteBuffer buffer_;
  P decoded_;
};

}  // namespace

void register_boost_codec() { register_codec<BoostCodec>(); }

}  // namespace brine::bench
