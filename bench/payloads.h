// Native C++ payloads that every serialization codec in the benchmark encodes
// and decodes, plus the digest that proves a decoder read every field.
//
// Each payload type exposes its fields once, through `fields(p)`, which
// returns a tuple of references. The generic codecs (memcpy, cereal, Boost,
// msgpack) and the digest walk that tuple; the schema codecs (protobuf,
// Cap'n Proto, FlatBuffers) map the fields by hand, as their users do.
#ifndef BRINE_BENCH_PAYLOADS_H_
#define BRINE_BENCH_PAYLOADS_H_

#include <array>
#include <bit>
#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

namespace brine::bench {

template <class Self, class T>
concept Is = std::same_as<std::remove_const_t<Self>, T>;

// (a) what a small task carries: a function id, two scalars and a name.
struct SmallTask {
  std::uint64_t id = 0;
  std::int32_t function = 0;
  double argument = 0;
  std::string name;  // 16 bytes
};
inline auto fields(Is<SmallTask> auto& p) { return std::tie(p.id, p.function, p.argument, p.name); }

struct Header {
  std::int32_t kind = 0;
  std::int64_t stamp = 0;
  std::string tag;
};
inline auto fields(Is<Header> auto& p) { return std::tie(p.kind, p.stamp, p.tag); }

// (b) about 1 KiB: a nested table and a vector.
struct MediumStruct {
  std::uint64_t id = 0;
  std::string name;
  Header header;
  std::vector<std::int64_t> values;
  double scale = 0;
};
inline auto fields(Is<MediumStruct> auto& p) {
  return std::tie(p.id, p.name, p.header, p.values, p.scale);
}

// (c) one large numeric array and a few scalars.
struct BigArray {
  std::uint64_t id = 0;
  std::int32_t kind = 0;
  double scale = 0;
  std::vector<double> values;
};
inline auto fields(Is<BigArray> auto& p) { return std::tie(p.id, p.kind, p.scale, p.values); }

struct Record {
  std::uint64_t id = 0;
  double value = 0;
  std::string name;
};
inline auto fields(Is<Record> auto& p) { return std::tie(p.id, p.value, p.name); }

// (d) many small records with strings.
struct RecordSet {
  std::vector<Record> records;
};
inline auto fields(Is<RecordSet> auto& p) { return std::tie(p.records); }

// (e) record_set with its records as plain structs: the issue's {float x, y, z; uint32 id}.
// Trivially copyable: FlatBuffers and brine write it as a struct, a vector of it is one block.
struct Point {
  float x = 0, y = 0, z = 0;
  std::uint32_t id = 0;
};
inline auto fields(Is<Point> auto& p) { return std::tie(p.x, p.y, p.z, p.id); }

struct RecordStructs {
  std::vector<Point> points;
};
inline auto fields(Is<RecordStructs> auto& p) { return std::tie(p.points); }

// (f) a graph shaped like the public cpp-serialization-benchmark: named nodes, weighted edges
// by node index, each edge stored twice (in its source's outgoing and its target's incoming
// list). Plain structs: an Edge is a FlatBuffers struct, a Node a table.
struct Edge {
  std::uint32_t from = 0;
  std::uint32_t to = 0;
  float weight = 0;
};
inline auto fields(Is<Edge> auto& p) { return std::tie(p.from, p.to, p.weight); }

struct Node {
  std::string name;
  std::vector<Edge> outgoing;
  std::vector<Edge> incoming;
};
inline auto fields(Is<Node> auto& p) { return std::tie(p.name, p.outgoing, p.incoming); }

struct Graph {
  std::vector<Node> nodes;
};
inline auto fields(Is<Graph> auto& p) { return std::tie(p.nodes); }

// The graph's size: 1,870 nodes and 3.1 M edges by default; set_quick_graph() (the suite's
// quick mode) makes it tiny. Call before the first sample<Graph>().
void set_quick_graph();

template <class T>
concept Described = requires(T& t) { fields(t); };

template <class T>
struct AllArithmetic : std::false_type {};
template <class... F>
struct AllArithmetic<std::tuple<F&...>> : std::bool_constant<(std::is_arithmetic_v<std::remove_const_t<F>> && ...)> {};

// A plain struct whose fields are all numbers: folded and copied as a block.
template <class T>
concept PlainDescribed =
    Described<T> && std::is_trivially_copyable_v<T> && AllArithmetic<decltype(fields(std::declval<T&>()))>::value;

template <class T>
concept Arithmetic = std::is_arithmetic_v<T>;

// One deterministic sample of each payload, built on first use.
template <class P>
const P& sample();

template <class P>
inline constexpr std::string_view kPayloadName = "";
template <>
inline constexpr std::string_view kPayloadName<SmallTask> = "small_task";
template <>
inline constexpr std::string_view kPayloadName<MediumStruct> = "medium_struct";
template <>
inline constexpr std::string_view kPayloadName<BigArray> = "big_array";
template <>
inline constexpr std::string_view kPayloadName<RecordSet> = "record_set";
template <>
inline constexpr std::string_view kPayloadName<RecordStructs> = "record_structs";
template <>
inline constexpr std::string_view kPayloadName<Graph> = "graph";

// Bytes of information in a payload: scalars, string and array contents,
// without any length prefix or framing. The x axis of the report's plot.
std::size_t payload_bytes(const Arithmetic auto& v) { return sizeof v; }
inline std::size_t payload_bytes(const std::string& s) { return s.size(); }
template <class T>
std::size_t payload_bytes(const std::vector<T>& values) {
  std::size_t n = 0;
  for (const T& v : values) n += payload_bytes(v);
  return n;
}
std::size_t payload_bytes(const Described auto& value) {
  return std::apply([](const auto&... f) { return (payload_bytes(f) + ...); }, fields(value));
}

// A fold over every field of a payload, order-sensitive across fields.
// Numbers are folded by bit pattern, so a decoder that loses or alters any
// value changes the digest.
class Digest {
 public:
  void add(Arithmetic auto v) { mix(bits(v)); }
  void add(std::string_view s) {
    mix(s.size());
    std::uint64_t bytes = 0;
    for (unsigned char c : s) bytes = bytes * 31 + c;
    mix(bytes);
  }
  void add(const std::string& s) { add(std::string_view(s)); }
  template <Arithmetic T>
  void add(const std::vector<T>& values) {
    add_array(values);
  }
  template <Arithmetic T>
  void add(std::span<const T> values) {  // a view decoded in place: same digest as its vector
    add_array(values);
  }
  template <Described T>
  void add(const std::vector<T>& values) {
    if constexpr (PlainDescribed<T>) {
      add_structs(std::span<const T>(values));
    } else {
      add_size(values.size());
      for (const T& v : values) add(v);
    }
  }
  template <PlainDescribed T>
  void add(std::span<const T> values) {  // a struct span decoded in place
    add_structs(values);
  }
  // Plain structs: one wrapping sum per field (it vectorizes, like add_array). Decoders
  // that read another representation (a FlatBuffers struct, a Cap'n Proto list) fold with
  // FieldSums and add_sums to get the same digest.
  template <PlainDescribed T>
  void add_structs(std::span<const T> values) {
    FieldSums<std::tuple_size_v<decltype(fields(std::declval<const T&>()))>> sums;
    for (const T& v : values) std::apply([&](const auto&... f) { sums.add(f...); }, fields(v));
    add_sums(values.size(), sums);
  }
  template <std::size_t N>
  class FieldSums {
   public:
    template <class... F>
    void add(F... f) {
      std::size_t k = 0;
      ((sums[k++] += raw_bits(f)), ...);
    }
    std::array<std::uint64_t, N> sums{};

   private:
    // Same-width bit pattern (no float-to-double widening): the loop stays vectorizable.
    template <class F>
    static std::uint64_t raw_bits(F v) {
      if constexpr (sizeof(F) == 4) {
        return std::bit_cast<std::uint32_t>(v);
      } else if constexpr (sizeof(F) == 8) {
        return std::bit_cast<std::uint64_t>(v);
      } else {
        return static_cast<std::uint64_t>(v);
      }
    }
  };
  template <std::size_t N>
  void add_sums(std::size_t n, const FieldSums<N>& s) {
    add_size(n);
    for (std::uint64_t v : s.sums) mix(v);
  }
  void add(const Described auto& value) {
    std::apply([this](const auto&... f) { (this->add(f), ...); }, fields(value));
  }

  // Any sized range of numbers: a std::vector, a FlatBuffers or protobuf
  // vector, a Cap'n Proto list reader. A wrapping sum of the bit patterns:
  // it vectorizes, so a decoder is charged for reading, not for a
  // dependency chain of its own.
  template <class Range>
  void add_array(const Range& values) {
    std::uint64_t folded = 0;
    for (auto v : values) folded += bits(v);
    add_size(values.size());
    mix(folded);
  }
  void add_size(std::size_t n) { mix(n); }

  std::uint64_t value() const { return state_; }

  template <Arithmetic T>
  static std::uint64_t bits(T v) {
    if constexpr (std::is_floating_point_v<T>) {
      return std::bit_cast<std::uint64_t>(static_cast<double>(v));
    } else {
      return static_cast<std::uint64_t>(v);
    }
  }

 private:
  void mix(std::uint64_t v) { state_ = (state_ ^ v) * 0x100000001b3ULL; }

  std::uint64_t state_ = 0xcbf29ce484222325ULL;
};

template <class T>
std::uint64_t digest_of(const T& value) {
  Digest d;
  d.add(value);
  return d.value();
}

}  // namespace brine::bench

#endif  // BRINE_BENCH_PAYLOADS_H_
