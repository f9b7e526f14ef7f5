#include "payloads.h"

#include <cstddef>
#include <string>

namespace brine::bench {
namespace {

constexpr std::size_t kMediumValues = 112;       // with the strings: ~1 KiB
constexpr std::size_t kBigValues = 1'000'000;
constexpr std::size_t kRecords = 10'000;
constexpr std::size_t kPoints = 10'000;
// cpp-serialization-benchmark's graph: 1,870 nodes, ~3.1 M edges.
std::size_t graph_nodes = 1'870;
std::size_t graph_edges = 3'100'000;

std::string numbered(std::string_view prefix, std::size_t i, std::size_t width) {
  std::string digits = std::to_string(i);
  std::string s(prefix);
  if (digits.size() < width) s.append(width - digits.size(), '0');
  return s + digits;
}

SmallTask make_small_task() {
  return {.id = 42, .function = 7, .argument = 3.25, .name = "brine.bench.sum!"};
}

MediumStruct make_medium_struct() {
  MediumStruct m{.id = 1234567,
                 .name = "medium payload with a nested table and a vector",
                 .header = {.kind = 3, .stamp = 1'700'000'000'123, .tag = "header-tag-0001"},
                 .values = {},
                 .scale = 0.5};
  m.values.reserve(kMediumValues);
  for (std::size_t i = 0; i < kMediumValues; ++i) {
    m.values.push_back(static_cast<std::int64_t>(i * i * 7919 + 1));
  }
  return m;
}

BigArray make_big_array() {
  BigArray b{.id = 99, .kind = 2, .scale = 1.5, .values = {}};
  b.values.reserve(kBigValues);
  for (std::size_t i = 0; i < kBigValues; ++i) b.values.push_back(static_cast<double>(i) * 0.25);
  return b;
}

RecordSet make_record_set() {
  RecordSet r;
  r.records.reserve(kRecords);
  for (std::size_t i = 0; i < kRecords; ++i) {
    r.records.push_back({.id = i, .value = static_cast<double>(i) / 3, .name = numbered("rec-", i, 8)});
  }
  return r;
}

RecordStructs make_record_structs() {
  RecordStructs r;
  r.points.reserve(kPoints);
  for (std::size_t i = 0; i < kPoints; ++i) {
    const auto f = static_cast<float>(i);
    r.points.push_back({.x = f * 0.5f, .y = f * 0.25f + 1, .z = -f, .id = static_cast<std::uint32_t>(i)});
  }
  return r;
}

// Deterministic pseudo-random edges (an LCG); each lands in its source's outgoing list and its
// target's incoming list.
Graph make_graph() {
  Graph g;
  g.nodes.resize(graph_nodes);
  for (std::size_t i = 0; i < graph_nodes; ++i) {
    g.nodes[i].name = numbered("node-", i, 6);
    g.nodes[i].outgoing.reserve(graph_edges / graph_nodes + 64);
    g.nodes[i].incoming.reserve(graph_edges / graph_nodes + 64);
  }
  std::uint64_t state = 0x9e3779b97f4a7c15ULL;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::uint32_t>(state >> 33);
  };
  for (std::size_t i = 0; i < graph_edges; ++i) {
    const std::uint32_t from = next() % static_cast<std::uint32_t>(graph_nodes);
    const std::uint32_t to = next() % static_cast<std::uint32_t>(graph_nodes);
    const Edge e{.from = from, .to = to, .weight = static_cast<float>(next() % 1000) / 16};
    g.nodes[from].outgoing.push_back(e);
    g.nodes[to].incoming.push_back(e);
  }
  return g;
}

}  // namespace

void set_quick_graph() {
  graph_nodes = 20;
  graph_edges = 2'000;
}

template <>
const RecordStructs& sample() {
  static const RecordStructs p = make_record_structs();
  return p;
}
template <>
const Graph& sample() {
  static const Graph p = make_graph();
  return p;
}

template <>
const SmallTask& sample() {
  static const SmallTask p = make_small_task();
  return p;
}
template <>
const MediumStruct& sample() {
  static const MediumStruct p = make_medium_struct();
  return p;
}
template <>
const BigArray& sample() {
  static const BigArray p = make_big_array();
  return p;
}
template <>
const RecordSet& sample() {
  static const RecordSet p = make_record_set();
  return p;
}

}  // namespace brine::bench
