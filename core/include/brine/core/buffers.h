// Where large buffers live. core knows nothing of shared memory: an Encoder asks a BufferSink
// to place (or find) a buffer and gets back a BufferRef; a Decoder asks a BufferSource to turn a
// BufferRef back into bytes. brine::ipc implements both over the pool's shared arena.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "brine/core/wire_generated.h"

namespace brine {

// How a contiguous buffer travels. kAuto: by size, against EncodeOptions::reference_threshold.
enum class Placement : uint8_t { kAuto, kCopy, kReference };

// Default size from which a buffer is referenced in the arena rather than copied into the
// envelope. The interleaved copy-vs-reference sweep in bench/ (BM_PoolSweep) put the crossover
// at 4.0 and 6.4 KiB in two full runs on a 2-vCPU VM (REPORT.md of 2026-12-02 00:50 and 11:01
// UTC; 16 KiB and more in runs on a loaded machine); 8 KiB is within 2x of both.
inline constexpr std::size_t kDefaultReferenceThreshold = 8 * 1024;

class BufferSink {
 public:
  virtual ~BufferSink() = default;
  // A reference to [data, data+size) if it already lies inside the arena (no copy), else nullopt.
  virtual std::optional<fb::BufferRef> locate(const void* data, std::size_t size) = 0;
  // Copies [data, data+size) into a new arena block. Throws brine::ArenaExhausted.
  virtual fb::BufferRef place(const void* data, std::size_t size, std::size_t align) = 0;
};

class BufferSource {
 public:
  virtual ~BufferSource() = default;
  // The bytes a reference names. Throws brine::DecodeError if the reference is out of bounds,
  // stale or malformed; never returns memory outside the arena.
  virtual std::span<const std::byte> resolve(const fb::BufferRef& ref) const = 0;
  // An owner keeping the referenced bytes alive after the envelope is gone, for values that
  // outlive it (a SharedVector result); nullptr if they live as long as the source anyway.
  virtual std::shared_ptr<const void> pin(const fb::BufferRef& /*ref*/) const { return nullptr; }
};

}  // namespace brine
