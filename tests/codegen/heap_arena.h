// HeapArena: a BufferSink and BufferSource over heap blocks, standing in for the pool's shared
// arena in tests of code that places buffers by reference. One thread; blocks live as long as
// the arena. Blocks are 8-byte aligned.
#pragma once

#include <cstring>
#include <vector>

#include "brine/core/buffers.h"
#include "brine/core/error.h"

namespace brine::testing {

class HeapArena final : public BufferSink, public BufferSource {
 public:
  std::optional<fb::BufferRef> locate(const void*, std::size_t) override { return std::nullopt; }

  fb::BufferRef place(const void* data, std::size_t size, std::size_t) override {
    std::vector<double>& block = blocks_.emplace_back((size + sizeof(double) - 1) / sizeof(double));
    if (size != 0) std::memcpy(block.data(), data, size);
    return fb::BufferRef(static_cast<uint32_t>(blocks_.size() - 1), 0, 0, size);
  }

  std::span<const std::byte> resolve(const fb::BufferRef& ref) const override {
    if (ref.block() >= blocks_.size() || ref.offset() + ref.length() > blocks_[ref.block()].size() * sizeof(double)) {
      throw DecodeError("HeapArena: reference out of bounds");
    }
    const auto* base = reinterpret_cast<const std::byte*>(blocks_[ref.block()].data());
    return {base + ref.offset(), ref.length()};
  }

  std::size_t blocks() const noexcept { return blocks_.size(); }

 private:
  std::vector<std::vector<double>> blocks_;
};

}  // namespace brine::testing
