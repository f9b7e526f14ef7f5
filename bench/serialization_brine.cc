// brine's own rows for the serialization suite (see codec.h for the interface).
//
//   brine         the task envelope a pool sends, copy path: brine::encode_call of a registered
//                 function taking the payload, into a reused FlatBufferBuilder with an Encoder
//                 without a buffer sink, finished as an fb::Task (as Pool::submit does). Decode
//                 does what a worker does before running the call: verify_task (the frame),
//                 the typed verifier of the call's signature table, then decodes the argument
//                 into the native struct the function takes, and reads every field.
//   brine_view    the same envelope, decoded as the views a function could take instead:
//                 std::string_view, std::span of scalars and of plain structs, in place.
//                 Compare with the `flatbuffers` row (FlatBuffers' in-place read).
//   brine_dumps   the public standalone API, brine::dumps / brine::loads (serialize.h).
//   brine_ref     payload (c) only, reference path: the array already lives in a shared arena
//                 (as a brine::SharedVector does), so the envelope carries {block, offset,
//                 length} and encoding is O(1); decode resolves the reference and reads it in
//                 place.
//   brine_place   payload (c) only, reference path for an ordinary std::vector: encoding
//                 copies the array once into a pre-allocated, already touched arena block;
//                 decode reads it in place.
#include <flatbuffers/flatbuffers.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <stdexcept>
#include <string_view>
#include <tuple>
#include <vector>

#include "brine/core/call.h"
#include "brine/core/closure.h"
#include "brine/core/reducer.h"
#include "brine/core/serialize.h"
#include "codec.h"

namespace brine::bench {

// Views with the same schema as the payloads: what a function reading in place takes.
struct BigArrayView {
  std::uint64_t id = 0;
  std::int32_t kind = 0;
  double scale = 0;
  std::span<const double> values;
};
inline auto fields(Is<BigArrayView> auto& p) { return std::tie(p.id, p.kind, p.scale, p.values); }

struct SmallTaskView {
  std::uint64_t id = 0;
  std::int32_t function = 0;
  double argument = 0;
  std::string_view name;
};
inline auto fields(Is<SmallTaskView> auto& p) { return std::tie(p.id, p.function, p.argument, p.name); }

struct HeaderView {
  std::int32_t kind = 0;
  std::int64_t stamp = 0;
  std::string_view tag;
};
inline auto fields(Is<HeaderView> auto& p) { return std::tie(p.kind, p.stamp, p.tag); }

struct MediumView {
  std::uint64_t id = 0;
  std::string_view name;
  HeaderView header;
  std::span<const std::int64_t> values;
  double scale = 0;
};
inline auto fields(Is<MediumView> auto& p) { return std::tie(p.id, p.name, p.header, p.values, p.scale); }

struct RecordView {
  std::uint64_t id = 0;
  double value = 0;
  std::string_view name;
};
inline auto fields(Is<RecordView> auto& p) { return std::tie(p.id, p.value, p.name); }

struct RecordSetView {
  std::vector<RecordView> records;
};
inline auto fields(Is<RecordSetView> auto& p) { return std::tie(p.records); }

struct RecordStructsView {
  std::span<const Point> points;
};
inline auto fields(Is<RecordStructsView> auto& p) { return std::tie(p.points); }

struct NodeView {
  std::string_view name;
  std::span<const Edge> outgoing;
  std::span<const Edge> incoming;
};
inline auto fields(Is<NodeView> auto& p) { return std::tie(p.name, p.outgoing, p.incoming); }

struct GraphView {
  std::vector<NodeView> nodes;
};
inline auto fields(Is<GraphView> auto& p) { return std::tie(p.nodes); }

}  // namespace brine::bench

// The reduce hooks: one line per payload struct, fields in declaration order. No custom hook:
// Point and Edge become FlatBuffers structs, everything else a table.
namespace bb = brine::bench;
template <>
struct brine::Reducer<bb::SmallTask>
    : brine::Fields<&bb::SmallTask::id, &bb::SmallTask::function, &bb::SmallTask::argument, &bb::SmallTask::name> {};
template <>
struct brine::Reducer<bb::Header> : brine::Fields<&bb::Header::kind, &bb::Header::stamp, &bb::Header::tag> {};
template <>
struct brine::Reducer<bb::MediumStruct>
    : brine::Fields<&bb::MediumStruct::id, &bb::MediumStruct::name, &bb::MediumStruct::header,
                    &bb::MediumStruct::values, &bb::MediumStruct::scale> {};
template <>
struct brine::Reducer<bb::BigArray>
    : brine::Fields<&bb::BigArray::id, &bb::BigArray::kind, &bb::BigArray::scale, &bb::BigArray::values> {};
template <>
struct brine::Reducer<bb::Record> : brine::Fields<&bb::Record::id, &bb::Record::value, &bb::Record::name> {};
template <>
struct brine::Reducer<bb::RecordSet> : brine::Fields<&bb::RecordSet::records> {};
template <>
struct brine::Reducer<bb::Point> : brine::Fields<&bb::Point::x, &bb::Point::y, &bb::Point::z, &bb::Point::id> {};
template <>
struct brine::Reducer<bb::RecordStructs> : brine::Fields<&bb::RecordStructs::points> {};
template <>
struct brine::Reducer<bb::Edge> : brine::Fields<&bb::Edge::from, &bb::Edge::to, &bb::Edge::weight> {};
template <>
struct brine::Reducer<bb::Node> : brine::Fields<&bb::Node::name, &bb::Node::outgoing, &bb::Node::incoming> {};
template <>
struct brine::Reducer<bb::Graph> : brine::Fields<&bb::Graph::nodes> {};

template <>
struct brine::Reducer<bb::BigArrayView>
    : brine::Fields<&bb::BigArrayView::id, &bb::BigArrayView::kind, &bb::BigArrayView::scale,
                    &bb::BigArrayView::values> {};
template <>
struct brine::Reducer<bb::SmallTaskView>
    : brine::Fields<&bb::SmallTaskView::id, &bb::SmallTaskView::function, &bb::SmallTaskView::argument,
                    &bb::SmallTaskView::name> {};
template <>
struct brine::Reducer<bb::HeaderView>
    : brine::Fields<&bb::HeaderView::kind, &bb::HeaderView::stamp, &bb::HeaderView::tag> {};
template <>
struct brine::Reducer<bb::MediumView>
    : brine::Fields<&bb::MediumView::id, &bb::MediumView::name, &bb::MediumView::header, &bb::MediumView::values,
                    &bb::MediumView::scale> {};
template <>
struct brine::Reducer<bb::RecordView>
    : brine::Fields<&bb::RecordView::id, &bb::RecordView::value, &bb::RecordView::name> {};
template <>
struct brine::Reducer<bb::RecordSetView> : brine::Fields<&bb::RecordSetView::records> {};
template <>
struct brine::Reducer<bb::RecordStructsView> : brine::Fields<&bb::RecordStructsView::points> {};
template <>
struct brine::Reducer<bb::NodeView>
    : brine::Fields<&bb::NodeView::name, &bb::NodeView::outgoing, &bb::NodeView::incoming> {};
template <>
struct brine::Reducer<bb::GraphView> : brine::Fields<&bb::GraphView::nodes> {};

namespace brine::bench {
namespace {

// The functions the envelopes call: one per payload, registered as a pool's tasks are.
template <class P>
std::uint64_t consume(const P& p) {
  return digest_of(p);
}

}  // namespace
}  // namespace brine::bench

BRINE_REGISTER_AS(brine::bench::consume<brine::bench::SmallTask>, "brine_bench::consume_small_task");
BRINE_REGISTER_AS(brine::bench::consume<brine::bench::MediumStruct>, "brine_bench::consume_medium_struct");
BRINE_REGISTER_AS(brine::bench::consume<brine::bench::BigArray>, "brine_bench::consume_big_array");
BRINE_REGISTER_AS(brine::bench::consume<brine::bench::BigArrayView>, "brine_bench::consume_big_array_view");
BRINE_REGISTER_AS(brine::bench::consume<brine::bench::RecordSet>, "brine_bench::consume_record_set");
BRINE_REGISTER_AS(brine::bench::consume<brine::bench::RecordStructs>, "brine_bench::consume_record_structs");
BRINE_REGISTER_AS(brine::bench::consume<brine::bench::Graph>, "brine_bench::consume_graph");

namespace brine::bench {
namespace {

template <class P>
struct ViewOf;
template <>
struct ViewOf<SmallTask> {
  using type = SmallTaskView;
};
template <>
struct ViewOf<MediumStruct> {
  using type = MediumView;
};
template <>
struct ViewOf<BigArray> {
  using type = BigArrayView;
};
template <>
struct ViewOf<RecordSet> {
  using type = RecordSetView;
};
template <>
struct ViewOf<RecordStructs> {
  using type = RecordStructsView;
};
template <>
struct ViewOf<Graph> {
  using type = GraphView;
};

Bytes builder_bytes(const flatbuffers::FlatBufferBuilder& fbb) {
  return {reinterpret_cast<const std::byte*>(fbb.GetBufferPointer()), fbb.GetSize()};
}

const flatbuffers::Table* as_table(const fb::AnyTable* t) { return reinterpret_cast<const flatbuffers::Table*>(t); }

// Encodes a call of consume<Arg>(value) as a task envelope into a reused builder (with an arena
// when given a sink), and decodes the envelope's argument back as a `Decoded`: the payload
// itself, or a view whose strings and arrays stay where the envelope or the arena holds them.
template <class Arg, class Decoded>
class EnvelopeCodecBase {
 protected:
  template <class Value>
  Bytes encode_with(const Value& value, BufferSink* sink) {
    fbb_.Clear();
    Encoder e(fbb_, {.sink = sink});
    finish_task(e, 1, info_, encode_call(e, fn_, value));
    return builder_bytes(fbb_);
  }
  std::uint64_t decode_with(Bytes encoded, const BufferSource* source) {
    const fb::Task& task = verify_task(encoded);
    if (task.head()->signature() != info_.signature) throw std::runtime_error("brine: signature mismatch");
    Decoder d(source);
    d.set_envelope(reinterpret_cast<const std::uint8_t*>(encoded.data()), encoded.size(), task.refs());
    const CallFrame frame{as_table(task.call()), as_table(task.bound()), task.head()->bound_count()};
    using Table = detail::CallTable<std::tuple<Decoded>>;
    d.require([&](Verifier& v) { return Table::verify(v, frame); }, "the call's arguments");
    return digest_of(std::get<0>(Table::read(d, frame)));
  }

 private:
  using Fn = std::uint64_t (*)(const Arg&);
  Fn fn_ = &consume<Arg>;
  // Looked up once: the registry lookup is a pool's cost per submit, not serialization's.
  const FunctionInfo& info_ = CallableTraits<Fn>::info(fn_);
  flatbuffers::FlatBufferBuilder fbb_{1024};
};

// Copy path: no sink, everything inside the envelope, decoded into the native struct.
template <class P>
class BrineEnvelopeCodec : EnvelopeCodecBase<P, P> {
 public:
  static constexpr std::string_view kName = "brine";
  Bytes encode(const P& payload) { return this->encode_with(payload, nullptr); }
  std::uint64_t decode(Bytes encoded) { return this->decode_with(encoded, nullptr); }
};

// The same envelope, decoded in place as views.
template <class P>
class BrineViewCodec : EnvelopeCodecBase<P, typename ViewOf<P>::type> {
 public:
  static constexpr std::string_view kName = "brine_view";
  Bytes encode(const P& payload) { return this->encode_with(payload, nullptr); }
  std::uint64_t decode(Bytes encoded) { return this->decode_with(encoded, nullptr); }
};

template <class P>
class BrineDumpsCodec {
 public:
  static constexpr std::string_view kName = "brine_dumps";
  Bytes encode(const P& payload) {
    blob_ = brine::dumps(payload);
    return blob_.span();
  }
  std::uint64_t decode(Bytes encoded) { return digest_of(brine::loads<P>(encoded)); }

 private:
  brine::Bytes blob_;
};

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
class BrineRefCodec : EnvelopeCodecBase<BigArrayView, BigArrayView> {
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
  register_codec_for<BrineEnvelopeCodec, RecordStructs, Graph>();
  register_codec<BrineViewCodec>();
  register_codec_for<BrineViewCodec, RecordStructs, Graph>();
  register_codec<BrineDumpsCodec>();
  register_codec_for<BrineDumpsCodec, RecordStructs, Graph>();
  register_codec_for<BrineRefCodec, BigArray>();
  register_codec_for<BrinePlaceCodec, BigArray>();
}

}  // namespace brine::bench
