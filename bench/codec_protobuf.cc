#include <stdexcept>

#include "codec.h"
#include "payloads.pb.h"

namespace brine::bench {
namespace {

void fill(const SmallTask& in, pb::SmallTask& out) {
  out.set_id(in.id);
  out.set_function(in.function);
  out.set_argument(in.argument);
  out.set_name(in.name);
}
void fold(Digest& d, const pb::SmallTask& m) {
  d.add(m.id());
  d.add(m.function());
  d.add(m.argument());
  d.add(m.name());
}

void fill(const MediumStruct& in, pb::MediumStruct& out) {
  out.set_id(in.id);
  out.set_name(in.name);
  pb::Header& header = *out.mutable_header();
  header.set_kind(in.header.kind);
  header.set_stamp(in.header.stamp);
  header.set_tag(in.header.tag);
  out.mutable_values()->Add(in.values.begin(), in.values.end());
  out.set_scale(in.scale);
}
void fold(Digest& d, const pb::MediumStruct& m) {
  d.add(m.id());
  d.add(m.name());
  d.add(m.header().kind());
  d.add(m.header().stamp());
  d.add(m.header().tag());
  d.add_array(m.values());
  d.add(m.scale());
}

void fill(const BigArray& in, pb::BigArray& out) {
  out.set_id(in.id);
  out.set_kind(in.kind);
  out.set_scale(in.scale);
  out.mutable_values()->Add(in.values.begin(), in.values.end());
}
void fold(Digest& d, const pb::BigArray& m) {
  d.add(m.id());
  d.add(m.kind());
  d.add(m.scale());
  d.add_array(m.values());
}

void fill(const RecordSet& in, pb::RecordSet& out) {
  for (const Record& r : in.records) {
    pb::Record& record = *out.add_records();
    record.set_id(r.id);
    record.set_value(r.value);
    record.set_name(r.name);
  }
}
void fold(Digest& d, const pb::RecordSet& m) {
  d.add_size(static_cast<std::size_t>(m.records_size()));
  for (const pb::Record& r : m.records()) {
    d.add(r.id());
    d.add(r.value());
    d.add(r.name());
  }
}

template <class P>
struct Schema;
template <>
struct Schema<SmallTask> {
  using Message = pb::SmallTask;
};
template <>
struct Schema<MediumStruct> {
  using Message = pb::MediumStruct;
};
template <>
struct Schema<BigArray> {
  using Message = pb::BigArray;
};
template <>
struct Schema<RecordSet> {
  using Message = pb::RecordSet;
};

template <class P>
class ProtobufCodec {
 public:
  static constexpr std::string_view kName = "protobuf";

  Bytes encode(const P& payload) {
    message_.Clear();
    fill(payload, message_);
    std::size_t size = message_.ByteSizeLong();
    auto* out = reinterpret_cast<std::uint8_t*>(buffer_.resize_for_overwrite(size));
    message_.SerializeWithCachedSizesToArray(out);
    return buffer_.bytes();
  }

  std::uint64_t decode(Bytes encoded) {
    if (!parsed_.ParseFromArray(encoded.data(), static_cast<int>(encoded.size()))) {
      throw std::runtime_error("protobuf: cannot parse");
    }
    Digest d;
    fold(d, parsed_);
    return d.value();
  }

 private:
  typename Schema<P>::Message message_;
  typename Schema<P>::Message parsed_;
  ByteBuffer buffer_;
};

}  // namespace

void register_protobuf_codec() { register_codec<ProtobufCodec>(); }

}  // namespace brine::bench
