#include <msgpack.hpp>

#include <tuple>
#include <utility>

#include "codec.h"

// msgpack adaptors for every described payload: an array of its fields.
namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
  namespace adaptor {

  template <brine::bench::Described T>
  struct pack<T> {
    template <class Stream>
    packer<Stream>& operator()(packer<Stream>& out, const T& value) const {
      auto f = fields(value);
      out.pack_array(std::tuple_size_v<decltype(f)>);
      std::apply([&out](const auto&... field) { (out.pack(field), ...); }, f);
      return out;
    }
  };

  template <brine::bench::Described T>
  struct convert<T> {
    const msgpack::object& operator()(const msgpack::object& in, T& value) const {
      auto f = fields(value);
      constexpr std::size_t n = std::tuple_size_v<decltype(f)>;
      if (in.type != msgpack::type::ARRAY || in.via.array.size != n) throw msgpack::type_error();
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        (in.via.array.ptr[I].convert(std::get<I>(f)), ...);
      }(std::make_index_sequence<n>{});
      return in;
    }
  };

  }  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE
}  // namespace msgpack

namespace brine::bench {
namespace {

template <class P>
class MsgpackCodec {
 public:
  static constexpr std::string_view kName = "msgpack";

  Bytes encode(const P& payload) {
    buffer_.clear();
    msgpack::pack(buffer_, payload);
    return buffer_.bytes();
  }

  std::uint64_t decode(Bytes encoded) {
    msgpack::object_handle handle =
        msgpack::unpack(reinterpret_cast<const char*>(encoded.data()), encoded.size());
    handle.get().convert(decoded_);
    return digest_of(decoded_);
  }

 private:
  ByteBuffer buffer_;
  P decoded_;
};

}  // namespace

void register_msgpack_codec() { register_codec<MsgpackCodec>(); }

}  // namespace brine::bench
