// The code under fuzz, shared by the libFuzzer targets, the corpus generator and the
// regression test (which replays the corpus and every crash input under plain g++).
//
//  - run_task_input: the worker side. Untrusted bytes -> verify_task -> run_task with a
//    Decoder over an ArenaView of a small fake segment; the result it encodes must verify.
//  - decode_result_input: the parent side. Untrusted bytes -> verify_result ->
//    decode_result<T> for several T.
// Both must never crash; a bad envelope is a brine::Error and nothing else.
#pragma once

#include <cstddef>
#include <span>

#include "brine/core/buffers.h"
#include "brine/ipc/arena.h"

namespace brine::fuzz {

// A segment with only a header, a block table and an arena: kBlocks blocks of kBlockBytes,
// each live (refs 1, generation 1). References resolve through the real ArenaView checks.
class FakeSegment final : public BufferSink {
 public:
  static constexpr uint32_t kBlocks = 4;
  static constexpr std::size_t kBlockBytes = 16 * 1024;

  FakeSegment();
  ~FakeSegment() override;
  FakeSegment(const FakeSegment&) = delete;
  FakeSegment& operator=(const FakeSegment&) = delete;

  const ipc::ArenaView& view() const noexcept { return view_; }
  // BufferSink for the corpus generator: each buffer takes the next block.
  std::optional<fb::BufferRef> locate(const void*, std::size_t) override { return std::nullopt; }
  fb::BufferRef place(const void* data, std::size_t size, std::size_t align) override;

 private:
  std::byte* memory_ = nullptr;
  ipc::ArenaView view_;
  uint32_t next_block_ = 0;
};

void run_task_input(std::span<const std::byte> bytes);
void decode_result_input(std::span<const std::byte> bytes);

}  // namespace brine::fuzz
