#include <flatbuffers/flatbuffers.h>

#include <stdexcept>
#include <string>
#include <vector>
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

// Plain structs: a FlatBuffers struct has the C++ struct's layout, so a vector of them is
// written and unpacked as one block.
static_assert(sizeof(fb::Point) == sizeof(Point) && alignof(fb::Point) == alignof(Point));
static_assert(sizeof(fb::Edge) == sizeof(Edge) && alignof(fb::Edge) == alignof(Edge));

template <class Fb, class T>
flatbuffers::Offset<flatbuffers::Vector<const Fb*>> struct_vector(flatbuffers::FlatBufferBuilder& b,
                                                                  const std::vector<T>& in) {
  return b.CreateVectorOfStructs(reinterpret_cast<const Fb*>(in.data()), in.size());
}
template <class T, class Fb>
void unpack_structs(const flatbuffers::Vector<const Fb*>* v, std::vector<T>& out) {
  if (v == nullptr) {
    out.clear();
    return;
  }
  const T* first = reinterpret_cast<const T*>(v->Data());
  out.assign(first, first + v->size());
}

auto build(flatbuffers::FlatBufferBuilder& b, const RecordStructs& in) {
  return fb::CreateRecordStructs(b, struct_vector<fb::Point>(b, in.points));
}
void fold(Digest& d, const fb::RecordStructs& m) {
  Digest::FieldSums<4> sums;
  const auto* points = m.points();
  if (points != nullptr) {
    for (const fb::Point* p : *points) sums.add(p->x(), p->y(), p->z(), p->id());
  }
  d.add_sums(points == nullptr ? 0 : points->size(), sums);
}

auto build(flatbuffers::FlatBufferBuilder& b, const Graph& in) {
  auto nodes = b.CreateVector<flatbuffers::Offset<fb::Node>>(in.nodes.size(), [&](std::size_t i) {
    const Node& n = in.nodes[i];
    auto name = b.CreateString(n.name);
    auto out = struct_vector<fb::Edge>(b, n.outgoing);
    auto inc = struct_vector<fb::Edge>(b, n.incoming);
    return fb::CreateNode(b, name, out, inc);
  });
  return fb::CreateGraph(b, nodes);
}
void fold_edges(Digest& d, const flatbuffers::Vector<const fb::Edge*>* edges) {
  Digest::FieldSums<3> sums;
  if (edges != nullptr) {
    for (const fb::Edge* e : *edges) sums.add(e->from(), e->to(), e->weight());
  }
  d.add_sums(edges == nullptr ? 0 : edges->size(), sums);
}
void fold(Digest& d, const fb::Graph& m) {
  const auto* nodes = m.nodes();
  d.add_size(nodes == nullptr ? 0 : nodes->size());
  if (nodes == nullptr) return;
  for (const fb::Node* n : *nodes) {
    d.add(view(n->name()));
    fold_edges(d, n->outgoing());
    fold_edges(d, n->incoming());
  }
}

// Unpacking into the native struct, by hand (what flatc's object API does, into our types).
std::string str(const flatbuffers::String* s) { return s == nullptr ? std::string() : s->str(); }
template <class T>
void unpack_array(const flatbuffers::Vector<T>* v, std::vector<T>& out) {
  if (v == nullptr) {
    out.clear();
  } else {
    out.assign(v->data(), v->data() + v->size());
  }
}
void unpack(const fb::SmallTask& m, SmallTask& out) {
  out.id = m.id();
  out.function = m.function();
  out.argument = m.argument();
  out.name = str(m.name());
}
void unpack(const fb::MediumStruct& m, MediumStruct& out) {
  out.id = m.id();
  out.name = str(m.name());
  const fb::Header* header = m.header();
  if (header == nullptr) throw std::runtime_error("flatbuffers: header missing");
  out.header.kind = header->kind();
  out.header.stamp = header->stamp();
  out.header.tag = str(header->tag());
  unpack_array(m.values(), out.values);
  out.scale = m.scale();
}
void unpack(const fb::BigArray& m, BigArray& out) {
  out.id = m.id();
  out.kind = m.kind();
  out.scale = m.scale();
  unpack_array(m.values(), out.values);
}
void unpack(const fb::RecordSet& m, RecordSet& out) {
  const auto* records = m.records();
  out.records.clear();
  if (records == nullptr) return;
  out.records.reserve(records->size());
  for (const fb::Record* r : *records) out.records.push_back({r->id(), r->value(), str(r->name())});
}
void unpack(const fb::RecordStructs& m, RecordStructs& out) { unpack_structs(m.points(), out.points); }
void unpack(const fb::Graph& m, Graph& out) {
  const auto* nodes = m.nodes();
  out.nodes.clear();
  if (nodes == nullptr) return;
  out.nodes.resize(nodes->size());
  for (flatbuffers::uoffset_t i = 0; i < nodes->size(); ++i) {
    const fb::Node* n = nodes->Get(i);
    out.nodes[i].name = str(n->name());
    unpack_structs(n->outgoing(), out.nodes[i].outgoing);
    unpack_structs(n->incoming(), out.nodes[i].incoming);
  }
}

// The root table type is what build() returns an offset to.
template <class T>
T* table_of(flatbuffers::Offset<T>);
template <class P>
using RootOf = std::remove_pointer_t<decltype(table_of(
    build(std::declval<flatbuffers::FlatBufferBuilder&>(), std::declval<const P&>())))>;

template <class P>
const RootOf<P>& verified_root(Bytes encoded) {
  const auto* data = reinterpret_cast<const std::uint8_t*>(encoded.data());
  // Default limits but for the table count: the graph holds more than a million tables.
  flatbuffers::Verifier verifier(data, encoded.size(),
                                 flatbuffers::Verifier::Options{.max_depth = 64, .max_tables = 1u << 24});
  if (!verifier.VerifyBuffer<RootOf<P>>(nullptr)) throw std::runtime_error("flatbuffers: verification failed");
  return *flatbuffers::GetRoot<RootOf<P>>(data);
}

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
    Digest d;
    fold(d, verified_root<P>(encoded));
    return d.value();
  }

 private:
  flatbuffers::FlatBufferBuilder builder_;
};

// The same bytes, decoded into the native struct the task takes (a fresh one each time, as a
// worker's argument): build + verify + unpack, then read every field.
template <class P>
class FlatBuffersUnpackCodec : public FlatBuffersCodec<P> {
 public:
  static constexpr std::string_view kName = "flatbuffers_unpack";
  std::uint64_t decode(Bytes encoded) {
    P out;
    unpack(verified_root<P>(encoded), out);
    return digest_of(out);
  }
};

}  // namespace

void register_flatbuffers_codec() {
  register_codec<FlatBuffersCodec>();
  register_codec_for<FlatBuffersCodec, RecordStructs, Graph>();
  register_codec<FlatBuffersUnpackCodec>();
  register_codec_for<FlatBuffersUnpackCodec, RecordStructs, Graph>();
}

}  // namespace brine::bench
