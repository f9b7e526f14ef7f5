#include "fuzz_harness.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "brine/core/call.h"
#include "brine/ipc/layout.h"

namespace brine_fuzz_functions {

// What fuzzed tasks may call: cheap, deterministic, covering the reducers.
// Wrapping: the fuzzer sends any two ints, and their sum must not be undefined behaviour.
int add(int a, int b) { return static_cast<int>(static_cast<unsigned>(a) + static_cast<unsigned>(b)); }
BRINE_REGISTER(add);
double total(std::span<const double> xs) {
  double s = 0;
  for (double x : xs) s += x;
  return s;
}
BRINE_REGISTER(total);
std::string greet(const std::string& name, std::optional<int> n) { return name + std::to_string(n.value_or(0)); }
BRINE_REGISTER(greet);
std::vector<double> scaled(std::span<const double> xs, double k) {
  std::vector<double> out(xs.begin(), xs.end());
  for (double& x : out) x *= k;
  return out;
}
BRINE_REGISTER(scaled);
std::map<std::string, int> count(const std::vector<std::string>& words) {
  std::map<std::string, int> out;
  for (const auto& w : words) ++out[w];
  return out;
}
BRINE_REGISTER(count);
std::variant<int, std::string> pick(std::tuple<int, std::string> t, bool first) {
  if (first) return std::get<0>(t);
  return std::get<1>(t);
}
BRINE_REGISTER(pick);
void nothing() {}
BRINE_REGISTER(nothing);
int fails(int x) { throw std::runtime_error("fails " + std::to_string(x)); }
BRINE_REGISTER(fails);

}  // namespace brine_fuzz_functions

namespace brine::fuzz {

namespace {

constexpr std::size_t kHeaderBytes = sizeof(ipc::SegmentHeader) + 4096;  // the header (two pages), then the block table

// FlatBuffers alignment checks are relative to the buffer: give it a 64-byte aligned copy,
// as a slot would.
struct AlignedCopy {
  explicit AlignedCopy(std::span<const std::byte> bytes)
      : data(static_cast<std::byte*>(std::aligned_alloc(64, (bytes.size() + 63) / 64 * 64 + 64))), size(bytes.size()) {
    if (size != 0) std::memcpy(data, bytes.data(), size);
  }
  ~AlignedCopy() { std::free(data); }
  std::span<const std::byte> span() const { return {data, size}; }
  std::byte* data;
  std::size_t size;
};

template <class T>
void decode_as(const fb::Result& r, const Decoder& d) {
  try {
    if constexpr (std::is_void_v<T>) {
      decode_result<void>(r, d);
    } else {
      [[maybe_unused]] T value = decode_result<T>(r, d);
    }
  } catch (const Error&) {
  }
}

}  // namespace

FakeSegment::FakeSegment() {
  const std::size_t arena = kBlocks * kBlockBytes;
  memory_ = static_cast<std::byte*>(std::aligned_alloc(4096, kHeaderBytes + arena));
  std::memset(memory_, 0, kHeaderBytes + arena);
  auto* h = new (memory_) ipc::SegmentHeader();
  h->magic = ipc::kSegmentMagic;
  h->version = ipc::kLayoutVersion;
  h->max_blocks = kBlocks;
  h->blocks_offset = sizeof(ipc::SegmentHeader);
  h->arena_offset = kHeaderBytes;
  h->arena_size = arena;
  h->total_size = kHeaderBytes + arena;
  static_assert(sizeof(ipc::SegmentHeader) + kBlocks * sizeof(ipc::BlockDesc) <= kHeaderBytes);
  auto* blocks = reinterpret_cast<ipc::BlockDesc*>(memory_ + h->blocks_offset);
  for (uint32_t i = 0; i < kBlocks; ++i) {
    new (blocks + i) ipc::BlockDesc();
    blocks[i].refs.store(1);
    blocks[i].generation.store(1);
    blocks[i].offset = kHeaderBytes + i * kBlockBytes;
    blocks[i].size = kBlockBytes;
  }
  view_ = ipc::ArenaView(memory_, h);
}

FakeSegment::~FakeSegment() { std::free(memory_); }

fb::BufferRef FakeSegment::place(const void* data, std::size_t size, std::size_t /*align*/) {
  if (size > kBlockBytes || next_block_ == kBlocks) throw ArenaExhausted("brine: fake segment full");
  const uint32_t id = next_block_++;
  std::memcpy(view_.base() + view_.blocks()[id].offset, data, size);
  return fb::BufferRef(id, 1, 0, size);
}

void run_task_input(std::span<const std::byte> bytes) {
  static FakeSegment segment;
  const AlignedCopy copy(bytes);
  const fb::Task* task = nullptr;
  try {
    task = &verify_task(copy.span());
  } catch (const DecodeError&) {
    return;
  }
  flatbuffers::FlatBufferBuilder fbb(1024);
  Encoder e(fbb);
  Decoder d(&segment.view());
  d.set_envelope(reinterpret_cast<const uint8_t*>(copy.span().data()), copy.span().size(), task->refs());
  finish_result(e, run_task(*task, FunctionRegistry::global(), d, e));
  // What a worker sends back must always pass the parent's verification.
  verify_result({reinterpret_cast<const std::byte*>(fbb.GetBufferPointer()), fbb.GetSize()});
}

void decode_result_input(std::span<const std::byte> bytes) {
  static FakeSegment segment;
  const AlignedCopy copy(bytes);
  const fb::Result* result = nullptr;
  try {
    result = &verify_result(copy.span());
  } catch (const DecodeError&) {
    return;
  }
  Decoder d(&segment.view());
  d.set_envelope(reinterpret_cast<const uint8_t*>(copy.span().data()), copy.span().size(), result->refs());
  decode_as<void>(*result, d);
  decode_as<int>(*result, d);
  decode_as<double>(*result, d);
  decode_as<bool>(*result, d);
  decode_as<std::string>(*result, d);
  decode_as<std::vector<double>>(*result, d);
  decode_as<std::span<const double>>(*result, d);
  decode_as<std::vector<std::string>>(*result, d);
  decode_as<std::optional<int>>(*result, d);
  decode_as<std::map<std::string, int>>(*result, d);
  decode_as<std::variant<int, std::string>>(*result, d);
  decode_as<std::tuple<int, std::string, double>>(*result, d);
  decode_as<std::vector<std::vector<int>>>(*result, d);
}

}  // namespace brine::fuzz
