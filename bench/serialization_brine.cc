// brine's own rows for the serialization suite (see codec.h for the interface).
//
//   brine         the envelope codec a pool uses, copy path: brine::Encoder without a buffer
//                 sink into a reused FlatBufferBuilder; decode verifies the buffer (FlatBuffers
//                 Verifier, as a worker does) and rebuilds the payload through its reduce hook
//                 (brine::Fields below), then reads every field.
//   brine_dumps   the public standalone API, brine::dumps / brine::loads (serialize.h), when
//                 it is in the tree.
//   brine_ref     payload (c) only, reference path: the array already lives in a shared arena
//                 (as a brine::SharedVector does), so the envelope carries {block, offset,
//                 length} and encoding is O(1); decode resolves the reference and reads it in
//                 place.
//   brine_place   payload (c) only, reference path for an ordinary std::vector (brine::ref(v)):
//                 encoding copies the array once into a pre-allocated, already touched arena
//                 block; decode reads it in place.
#include <flatbuffers/flatbuffers.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <stdexcept>
#include <vector>

#include "brine/core/reducer.h"
#include "codec.h"

#if __has_include("brine/core/serialize.h")
#include "brine/core/serialize.h"
#define BRINE_BENCH_WITH_DUMPS 1
#endif

namespace brine::bench {

// A BigArray whose array lives in an arena (a SharedVector's span).
struct BigArrayView {
  std::uint64_t id = 0;
  std::int32_t kind = 0;
  double scale = 0;
  std::span<const double> values;
};
inline auto fields(Is<BigArrayView> auto& p) { return std::tie(p.id, p.kind, p.scale, p.values); }

}  // namespace brine::bench

// The reduce hooks: one line per payload struct, fields in declaration order.
template <>
struct brine::Reducer<brine::bench::SmallTask>
    : brine::Fields<&bench::SmallTask::id, &bench::SmallTask::function, &bench::SmallTask::argument,
                    &bench::SmallTask::name> {};
template <>
struct brine::Reducer<brine::bench::Header>
    : brine::Fields<&bench::Header::kind, &bench::Header::stamp, &bench::Header::tag> {};
template <>
struct brine::Reducer<brine::bench::MediumStruct>
    : brine::Fields<&bench::MediumStruct::id, &bench::MediumStruct::name, &bench::MediumStruct::header,
                    &bench::MediumStruct::values, &bench::MediumStruct::scale> {};
template <>
struct brine::Reducer<brine::bench::BigArray>
    : brine::Fields<&bench::BigArray::id, &bench::BigArray::kind, &bench::BigArray::scale,
                    &bench::BigArray::values> {};
template <>
struct brine::Reducer<brine::bench::BigArrayView>
    : brine::Fields<&bench::BigArrayView::id, &bench::BigArrayView::kind, &bench::BigArrayView::scale,
                    &bench::BigArrayView::values> {};
template <>
struct brine::Reducer<brine::bench::Record>
    : brine::Fields<&bench::Record::id, &bench::Record::value, &bench::Record::name> {};
template <>
struct brine::Reducer<brine::bench::RecordSet> : brine::Fields<&bench::RecordSet::records> {};

namespace brine::bench {
namespace {

Bytes builder_bytes(const flatbuffers::FlatBufferBuilder& fbb) {
  return {reinterpret_cast<const std::byte*>(fbb.GetBufferPointer()), fbb.GetSize()};
}

// Verifies an envelope whose root is a brine::fb::Value, as a worker verifies a task.
const fb::Value& verified_value(Bytes encoded) {
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(encoded.data()), encoded.size(),
                                 flatbuffers::Verifier::Options{.max_depth = 64, .max_tables = 1u << 24});
  if (!verifier.VerifyBuffer<fb::Value>(nullptr)) throw std::runtime_error("brine: envelope failed verification");
  return *flatbuffers::GetRoot<fb::Value>(encoded.data());
}

// Encodes an `Encoded` into a reused builder (with an arena when given a sink) and decodes it
// back as a `Decoded`: the payload itself, or a view whose array stays where the envelope or
// the arena holds it.
template <class Encoded, class Decoded = Encoded>
class EnvelopeCodecBase {
 protected:
  Bytes encode_with(const Encoded& value, BufferSink* sink) {
    fbb_.Clear();
    Encoder e(fbb_, {.sink = sink});
    fbb_.Finish(e.encode(value));
    return builder_bytes(fbb_);
  }
  std::uint64_t decode_with(Bytes encoded, const BufferSource* source) {
    const Decoder d(source);
    return digest_of(d.decode<Decoded>(&verified_value(encoded)));
  }

 private:
  flatbuffers::FlatBufferBuilder fbb_{1024};
};

// Copy path: no sink, everything inside the envelope.
template <class P>
class BrineEnvelopeCodec : EnvelopeCodecBase<P> {
 public:
  static constexpr std::string_view kName = "brine";
  Bytes encode(const P& payload) { return this->encode_with(payload, nullptr); }
  std::uint64_t decode(Bytes encoded) { return this->decode_with(encoded, nullptr); }
};

#ifdef BRINE_BENCH_WITH_DUMPS
template <class P>
class BrineDumpsCodec {
 public:
  static constexpr std::string_view kName = "brine_dumps";
  Bytes encode(const P& payload) {
    blob_ = brine::dumps(payload);
    return blob_;
  }
  std::uint64_t decode(Bytes encoded) { return digest_of(brine::loads<P>(encoded)); }

 private:
  std::vector<std::byte> blob_;
};
#endif

// A stand-in for a pool's shared arena: one pre-allocated, touched block (id 0). As a sink it
// finds buffers already inside it (zero copies) and places others at its start (one copy); as
// a source it resolves references with a bounds check.
class OneBlockArena final : public BufferSink, public BufferSource {
 public:
  explicit OneBlockArena(std::size_t bytes)
      : size_(bytes), data_(std::make_unique<std::byte[]>(bytes)) {}  // value-initialized: touched

  std::byte* data() noexcept { return data_.get(); }

  std::optional<fb::BufferRef> locate(const void* p, std::size_t n) override {
    const auto* b = static_cast<const std::byte*>(p);
    if (b < data_.get() || b + n > data_.get() + size_) return std::nullopt;
    return fb::BufferRef(0, 0, static_cast<std::uint64_t>(b - data_.get()), n);
  }
  fb::BufferRef place(const void* p, std::size_t n, std::size_t /*align*/) override {
    if (n > size_) throw std::length_error("bench arena too small");
    std::memcpy(data_.get(), p, n);
    return fb::BufferRef(0, 0, 0, n);
  }
  std::span<const std::byte> resolve(const fb::BufferRef& ref) const override {
    if (ref.block() != 0 || ref.offset() > size_ || ref.length() > size_ - ref.offset()) {
      throw std::out_of_range("reference outside the bench arena");
    }
    return {data_.get() + ref.offset(), static_cast<std::size_t>(ref.length())};
  }

 private:
  std::size_t size_;
  std::unique_ptr<std::byte[]> data_;
};

std::size_t array_bytes(const BigArray& p) { return p.values.size() * sizeof(double); }

// Reference path, array already in the arena: what submitting a SharedVector costs.
template <class P>
class BrineRefCodec : EnvelopeCodecBase<BigArrayView> {
 public:
  static constexpr std::string_view kName = "brine_ref";
  Bytes encode(const P& payload) {
    if (view_.values.data() == nullptr) view_ = filled_view(payload);  // the producer writes it once
    return this->encode_with(view_, &arena_);
  }
  std::uint64_t decode(Bytes encoded) { return this->decode_with(encoded, &arena_); }

 private:
  BigArrayView filled_view(const P& p) {
    std::memcpy(arena_.data(), p.values.data(), array_bytes(p));
    return {p.id, p.kind, p.scale, {reinterpret_cast<const double*>(arena_.data()), p.values.size()}};
  }
  OneBlockArena arena_{array_bytes(sample<P>())};
  BigArrayView view_;
};

// Reference path from an ordinary vector: one copy into the arena, none into the envelope.
template <class P>
class BrinePlaceCodec : EnvelopeCodecBase<P, BigArrayView> {
 public:
  static constexpr std::string_view kName = "brine_place";
  Bytes encode(const P& payload) { return this->encode_with(payload, &arena_); }
  std::uint64_t decode(Bytes encoded) { return this->decode_with(encoded, &arena_); }

 private:
  OneBlockArena arena_{array_bytes(sample<P>())};
};

}  // namespace

void register_brine_codecs() {
  register_codec<BrineEnvelopeCodec>();
#ifdef BRINE_BENCH_WITH_DUMPS
  register_codec<BrineDumpsCodec>();
#endif
  register_codec_for<BrineRefCodec, BigArray>();
  register_codec_for<BrinePlaceCodec, BigArray>();
}

}  // namespace brine::bench
