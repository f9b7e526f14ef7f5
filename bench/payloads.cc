#include "payloads.h"

#include <cstddef>
#include <string>

namespace brine::bench {
namespace {

constexpr std::size_t kMediumValues = 112;       // with the strings: ~1 KiB
constexpr std::size_t kBigValues = 1'000'000;
constexpr std::size_t kRecords = 10'000;

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

}  // namespace

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
