#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/io.h>

#include <cstring>
#include <string_view>
#include <vector>

#include "codec.h"
#include "payloads.capnp.h"

namespace brine::bench {
namespace {

std::string_view view(capnp::Text::Reader text) { return {text.begin(), text.size()}; }

template <class T, class List>
void copy_list(const std::vector<T>& in, List list) {
  for (unsigned i = 0; i < in.size(); ++i) list.set(i, in[i]);
}

void fill(const SmallTask& in, cp::SmallTask::Builder out) {
  out.setId(in.id);
  out.setFunction(in.function);
  out.setArgument(in.argument);
  out.setName(in.name);
}
void fold(Digest& d, cp::SmallTask::Reader m) {
  d.add(m.getId());
  d.add(m.getFunction());
  d.add(m.getArgument());
  d.add(view(m.getName()));
}

void fill(const MediumStruct& in, cp::MediumStruct::Builder out) {
  out.setId(in.id);
  out.setName(in.name);
  cp::Header::Builder header = out.initHeader();
  header.setKind(in.header.kind);
  header.setStamp(in.header.stamp);
  header.setTag(in.header.tag);
  copy_list(in.values, out.initValues(static_cast<unsigned>(in.values.size())));
  out.setScale(in.scale);
}
void fold(Digest& d, cp::MediumStruct::Reader m) {
  d.add(m.getId());
  d.add(view(m.getName()));
  d.add(m.getHeader().getKind());
  d.add(m.getHeader().getStamp());
  d.add(view(m.getHeader().getTag()));
  d.add_array(m.getValues());
  d.add(m.getScale());
}

void fill(const BigArray& in, cp::BigArray::Builder out) {
  out.setId(in.id);
  out.setKind(in.kind);
  out.setScale(in.scale);
  copy_list(in.values, out.initValues(static_cast<unsigned>(in.values.size())));
}
void fold(Digest& d, cp::BigArray::Reader m) {
  d.add(m.getId());
  d.add(m.getKind());
  d.add(m.getScale());
  d.add_array(m.getValues());
}

void fill(const RecordSet& in, cp::RecordSet::Builder out) {
  auto records = out.initRecords(static_cast<unsigned>(in.records.size()));
  for (unsigned i = 0; i < in.records.size(); ++i) {
    const Record& r = in.records[i];
    cp::Record::Builder record = records[i];
    record.setId(r.id);
    record.setValue(r.value);
    record.setName(r.name);
  }
}
void fold(Digest& d, cp::RecordSet::Reader m) {
  d.add_size(m.getRecords().size());
  for (cp::Record::Reader r : m.getRecords()) {
    d.add(r.getId());
    d.add(r.getValue());
    d.add(view(r.getName()));
  }
}

void fill_edges(const std::vector<Edge>& in, capnp::List<cp::Edge>::Builder out) {
  for (unsigned i = 0; i < in.size(); ++i) {
    cp::Edge::Builder e = out[i];
    e.setFrom(in[i].from);
    e.setTo(in[i].to);
    e.setWeight(in[i].weight);
  }
}
void fill(const Graph& in, cp::Graph::Builder out) {
  auto nodes = out.initNodes(static_cast<unsigned>(in.nodes.size()));
  for (unsigned i = 0; i < in.nodes.size(); ++i) {
    const Node& n = in.nodes[i];
    cp::Node::Builder node = nodes[i];
    node.setName(n.name);
    fill_edges(n.outgoing, node.initOutgoing(static_cast<unsigned>(n.outgoing.size())));
    fill_edges(n.incoming, node.initIncoming(static_cast<unsigned>(n.incoming.size())));
  }
}
void fold_edges(Digest& d, capnp::List<cp::Edge>::Reader edges) {
  Digest::FieldSums<3> sums;
  for (cp::Edge::Reader e : edges) sums.add(e.getFrom(), e.getTo(), e.getWeight());
  d.add_sums(edges.size(), sums);
}
void fold(Digest& d, cp::Graph::Reader m) {
  d.add_size(m.getNodes().size());
  for (cp::Node::Reader n : m.getNodes()) {
    d.add(view(n.getName()));
    fold_edges(d, n.getOutgoing());
    fold_edges(d, n.getIncoming());
  }
}

template <class P>
struct Schema;
template <>
struct Schema<Graph> {
  using Root = cp::Graph;
};
template <>
struct Schema<SmallTask> {
  using Root = cp::SmallTask;
};
template <>
struct Schema<MediumStruct> {
  using Root = cp::MediumStruct;
};
template <>
struct Schema<BigArray> {
  using Root = cp::BigArray;
};
template <>
struct Schema<RecordSet> {
  using Root = cp::RecordSet;
};

// Encodes through a reused, zeroed first segment (Cap'n Proto's advice for
// building many messages in a loop) and writes the flat message into a
// reused buffer.
template <class P>
class CapnpCodec {
  using Root = typename Schema<P>::Root;

 public:
  static constexpr std::string_view kName = "capnp";

  CapnpCodec() {
    capnp::MallocMessageBuilder probe;
    fill(sample<P>(), probe.initRoot<Root>());
    first_segment_ = kj::heapArray<capnp::word>(capnp::computeSerializedSizeInWords(probe) + kSlackWords);
    std::memset(first_segment_.begin(), 0, first_segment_.size() * sizeof(capnp::word));
  }

  Bytes encode(const P& payload) {
    capnp::MallocMessageBuilder builder(first_segment_);
    fill(payload, builder.initRoot<Root>());
    std::size_t size = capnp::computeSerializedSizeInWords(builder) * sizeof(capnp::word);
    auto* out = reinterpret_cast<kj::byte*>(buffer_.resize_for_overwrite(size));
    kj::ArrayOutputStream stream(kj::arrayPtr(out, size));
    capnp::writeMessage(stream, builder);
    return buffer_.bytes();
  }

  std::uint64_t decode(Bytes encoded) {
    kj::ArrayPtr<const capnp::word> words(reinterpret_cast<const capnp::word*>(encoded.data()),
                                          encoded.size() / sizeof(capnp::word));
    capnp::ReaderOptions options;
    options.traversalLimitInWords = words.size() * 2;
    capnp::FlatArrayMessageReader reader(words, options);
    Digest d;
    fold(d, reader.getRoot<Root>());
    return d.value();
  }

 private:
  static constexpr std::size_t kSlackWords = 64;

  kj::Array<capnp::word> first_segment_;
  ByteBuffer buffer_;
};

}  // namespace

void register_capnp_codec() {
  register_codec<CapnpCodec>();
  register_codec_for<CapnpCodec, Graph>();
}

}  // namespace brine::bench
