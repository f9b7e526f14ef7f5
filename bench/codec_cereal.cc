#include <cereal/archives/binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <istream>
#include <ostream>

#include "codec.h"

namespace brine::bench {

template <class Archive>
void serialize(Archive& archive, Described auto& value) {
  std::apply([&archive](auto&... f) { archive(f...); }, fields(value));
}

namespace {

template <class P>
class CerealCodec {
 public:
  static constexpr std::string_view kName = "cereal";

  Bytes encode(const P& payload) {
    buffer_.clear();
    ByteBufferSink sink(buffer_);
    std::ostream stream(&sink);
    cereal::BinaryOutputArchive archive(stream);
    archive(payload);
    return buffer_.bytes();
  }

  std::uint64_t decode(Bytes encoded) {
    BytesSource source(encoded);
    std::istream stream(&source);
    cereal::BinaryInputArchive archive(stream);
    archive(decoded_);
    return digest_of(decoded_);
  }

 private:
  ByteBuffer buffer_;
  P decoded_;
};

}  // namespace

void register_cereal_codec() {
  register_codec<CerealCodec>();
  register_codec_for<CerealCodec, RecordStructs, Graph>();
}

}  // namespace brine::bench
