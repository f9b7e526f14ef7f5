#include <flatbuffers/flatbuffers.h>

#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>

#include "codec.h"
#include "payloads_generated.h"

namespace brine::bench {
namespace {

std::string_view view(const flatbuffers::String* s) {
  return s == nullptr ? std::string_view() : std::string_view(s->c_str(), s->size());
}

template <class T>
void fold_array(Digest& d, const flatbuffers::Vector<T>* v) {
  if (v == nullptr) {
    d.add_array(std::span<const T>());
  } else {
    d.add_array(*v);
  }
}

auto build(flatbuffers::FlatBufferBuilder& b, const SmallTask& in) {
  return fb::CreateSmallTaskDirect(b, in.id, in.function, in.argument, in.name.c_str());
}
void fold(Digest& d, const fb::SmallTask& m) {
  d.add(m.id());
  d.add(m.function());
  d.add(m.argument());
  d.add(view(m.name()));
}

auto build(flatbuffers::FlatBufferBuilder& b, const MediumStruct& in) {
  auto header = fb::CreateHeaderDirect(b, in.header.kind, in.header.stamp, in.header.tag.c_str());
  return fb::CreateMediumStructDirect(b, in.id, in.name.c_str(), header, &in.values, in.scale);
}
void fold(Digest& d, const fb::MediumStruct& m) {
  d.add(m.id());
  d.add(view(m.name()));
  const fb::Header* header = m.header();
  if (header == nullptr) throw std::runtime_error("flatbuffers: header missing");
  d.add(header->kind());
  d.add(header->stamp());
  d.add(view(header->tag()));
  fold_array(d, m.values());
  d.add(m.scale());
}

auto build(flatbuffers::FlatBufferBuilder& b, const BigArray& in) {
  return fb::CreateBigArrayDirect(b, in.id, in.kind, in.scale, &in.values);
}
void fold(Digest& d, const fb::BigArray& m) {
  d.add(m.id());
  d.add(m.kind());
  d.add(m.scale());
  fold_array(d, m.values());
}

auto build(flatbuffers::FlatBufferBuilder& b, const RecordSet& in) {
  auto records = b.CreateVector<flatbuffers::Offset<fb::Record>>(in.records.size(), [&](std::size_t i) {
    const Record& r = in.records[i];
    return fb::CreateRecordDirect(b, r.id, r.value, r.name.c_str());
  });
  return fb::CreateRecordSet(b, records);
}
void fold(Digest& d, const fb::RecordSet& m) {
  const auto* records = m.records();
  d.add_size(records == nullptr ? 0 : records->size());
  if (records == nullptr) return;
  for (const fb::Record* r : *records) {
    d.add(r->id());
    d.add(r->value());
    d.add(view(r->name()));
  }
}

// The root table type is what build() returns an offset to.
template <class T>
T* table_of(flatbuffers::Offset<T>);
template <class P>
using RootOf = std::remove_pointer_t<decltype(table_of(
    build(std::declval<flatbuffers::FlatBufferBuilder&>(), std::declval<const P&>())))>;

// Decoding verifies the buffer first: bytes from another process are
// untrusted, and that is how brine reads its own envelopes.
template <class P>
class FlatBuffersCodec {
 public:
  static constexpr std::string_view kName = "flatbuffers";

  Bytes encode(const P& payload) {
    builder_.Clear();
    builder_.Finish(build(builder_, payload));
    return {reinterpret_cast<const std::byte*>(builder_.GetBufferPointer()), builder_.GetSize()};
  }

  std::uint64_t decode(Bytes encoded) {
    const auto* data = reinterpret_cast<const std::uint8_t*>(encoded.data());
    flatbuffers::Verifier verifier(data, encoded.size());
    if (!verifier.VerifyBuffer<RootOf<P>>(nullptr)) throw std::runtime_error("flatbuffers: verification failed");
    Digest d;
    fold(d, *flatbuffers::GetRoot<RootOf<P>>(data));
    return d.value();
  }

 private:
  flatbuffers::FlatBufferBuilder builder_;
};

}  // namespace

void register_flatbuffers_codec() { register_codec<FlatBuffersCodec>(); }

}  // namespace brine::bench
