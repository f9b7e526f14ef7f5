// The shared arena: large buffers of a pool, in its segment, reference counted.
//
// Blocks are described by a fixed table (BlockDesc) whose ids come from a lock-free free list;
// their bytes come from a Boost.Interprocess heap that only the parent process touches (a
// worker killed at any instant can never hold its lock). A block lives while its count of
// holders is positive: the tasks in flight that reference it, the futures whose results point
// into it, the SharedVectors and Views handed to the user. The parent keeps every count, so a
// worker's death cannot leak a block: what the worker was using is released with its task.
//
// Thread safety: Arena is safe to use from any thread of the parent. ArenaView (worker side)
// only resolves references and is read-only.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <utility>

#include "brine/core/buffers.h"
#include "brine/ipc/layout.h"

namespace brine::ipc {

class Arena;

// Holds one reference to an arena block; move-only RAII.
class BlockHandle {
 public:
  BlockHandle() = default;
  BlockHandle(Arena* arena, uint32_t id) noexcept : arena_(arena), id_(id) {}
  BlockHandle(BlockHandle&& o) noexcept : arena_(o.arena_), id_(o.id_) { o.arena_ = nullptr; }
  BlockHandle& operator=(BlockHandle&& o) noexcept;
  BlockHandle(const BlockHandle&) = delete;
  BlockHandle& operator=(const BlockHandle&) = delete;
  ~BlockHandle() { reset(); }

  void reset() noexcept;
  BlockHandle share() const noexcept;  // another reference to the same block
  explicit operator bool() const noexcept { return arena_ != nullptr; }
  uint32_t id() const noexcept { return id_; }
  std::byte* data() const noexcept;
  std::size_t size() const noexcept;
  fb::BufferRef ref(uint64_t offset, uint64_t length) const noexcept;

 private:
  Arena* arena_ = nullptr;
  uint32_t id_ = 0;
};

// Resolves references against a mapped segment, with bounds and generation checks.
class ArenaView : public BufferSource {
 public:
  ArenaView() = default;
  ArenaView(std::byte* base, SegmentHeader* header) noexcept;
  // Resolves a reference; a large buffer is populated for reading first (populate below).
  std::span<const std::byte> resolve(const fb::BufferRef& ref) const override;

  // Maps the arena pages under [data, data + size) into this process's page tables with one
  // madvise (MADV_POPULATE_WRITE or _READ, Linux >= 5.14) instead of one page fault per 4 KiB
  // page as they are first touched, which on a VM costs a trap each. Works in 2 MiB chunks of
  // the arena and remembers which ones this process populated (pages are never given back to
  // the kernel while the pool lives, so a chunk stays warm): repeated sends through the same
  // arena pages cost nothing. A no-op below kPopulateMinBytes, outside the arena, and on older
  // kernels (the fallback: the pages fault in one by one, as before).
  static constexpr std::size_t kPopulateMinBytes = std::size_t{256} << 10;
  static constexpr std::size_t kPopulateChunk = std::size_t{2} << 20;
  void populate(const void* data, std::size_t size, bool write) const noexcept;
  // Whether some chunk under [data, data + size) was never populated by this process.
  bool cold(const void* data, std::size_t size) const noexcept;
  // The block containing [data, data+size), with the offset inside it, if any.
  std::optional<fb::BufferRef> locate(const void* data, std::size_t size) const noexcept;

  BlockDesc* blocks() const noexcept { return reinterpret_cast<BlockDesc*>(base_ + header_->blocks_offset); }
  std::byte* base() const noexcept { return base_; }
  SegmentHeader* header() const noexcept { return header_; }

 protected:
  // The first and last kPopulateChunk of [data, data + size) in the arena; none if it is empty
  // or starts outside the arena.
  std::optional<std::pair<std::size_t, std::size_t>> chunks_of(const void* data, std::size_t size) const noexcept;
  bool is_warm(std::size_t chunk) const noexcept;  // populated by this process
  std::byte* base_ = nullptr;
  SegmentHeader* header_ = nullptr;
  // One bit per kPopulateChunk of the arena: populated in this process (per process: a forked
  // worker builds its own view). Null if it could not be allocated: every call populates.
  std::shared_ptr<std::atomic<uint64_t>[]> warm_;
};

class Arena : public ArenaView {
 public:
  // Formats the arena region described by `header` (parent, once). `fd`: the segment's memfd,
  // mapped at `base` (copy_in writes through it), or -1.
  Arena(std::byte* base, SegmentHeader* header, int fd = -1);
  ~Arena() override;

  // Parent-side resolve: checks against the parent's private record of each block, not the
  // block table in shared memory (which a hostile worker could rewrite).
  std::span<const std::byte> resolve(const fb::BufferRef& ref) const override;

  // A new block of `size` bytes aligned to `align` (<= 4096), holding one reference.
  // Throws brine::ArenaExhausted with the sizes and the option that raises the limit.
  BlockHandle allocate(std::size_t size, std::size_t align = 64);
  // Like allocate() but returns an empty handle instead of throwing.
  BlockHandle try_allocate(std::size_t size, std::size_t align = 64) noexcept;
  // A reference to the block holding [data, data+size) if it lies in the arena.
  BlockHandle find(const void* data, std::size_t size) noexcept;
  BlockHandle retain(uint32_t id) noexcept;
  // Copies `size` bytes from `src` to `dst`, inside the arena. Into chunks this process never
  // touched, a large copy goes through the segment's fd (pwrite): the kernel copies through its
  // own mapping of the pages, so this process takes no page fault, and on a VM whose hypervisor
  // shadows the page tables (this one) no trap per page either: the first send of 1 GiB by
  // brine::ref went from 2.79/2.46 s to 1.03/0.85 s (BM_PoolArraySum/1024MiB/ref_first, old
  // and new binaries interleaved). Chunks stay cold in this process, so repeated sends through
  // them take pwrite too: 149-200 ms per 1 GiB against 114-117 ms for a memcpy into warm pages.
  // Switching such chunks to memcpy on the second send was worse here: the first touch of those
  // pages through the mapping cost 3.8 s per GiB on every send in a slow phase of this VM.
  // Into warm chunks (populated by this process): populate (a no-op there), then memcpy.
  void copy_in(std::byte* dst, const void* src, std::size_t size) noexcept;

  std::size_t used() const noexcept;
  std::size_t capacity() const noexcept;
  std::size_t live_blocks() const noexcept;

 private:
  friend class BlockHandle;
  void release(uint32_t id) noexcept;

  // The parent's own copy of where each live block is: what it reads and frees never depends on
  // shared memory a worker can write.
  struct Extent {
    uint64_t offset = 0;
    uint64_t size = 0;
    uint32_t generation = 0;
    std::atomic<uint32_t> refs{0};  // the count that decides; BlockDesc::refs mirrors it for tools
  };
  void mirror_refs(uint32_t id, uint32_t refs) noexcept { blocks()[id].refs.store(refs, std::memory_order_relaxed); }
  const Extent& extent(uint32_t id) const noexcept { return extents_[id]; }

  struct Heap;
  std::unique_ptr<Heap> heap_;
  std::unique_ptr<Extent[]> extents_;
  int fd_ = -1;
  std::mutex mu_;                          // guards heap_ and by_offset_
  std::map<uint64_t, uint32_t> by_offset_;  // block offset -> id, to locate user pointers
};

}  // namespace brine::ipc
