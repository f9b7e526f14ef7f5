#include "brine/ipc/arena.h"

#include <sys/mman.h>
#include <unistd.h>

#include <boost/interprocess/managed_external_buffer.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "brine/core/error.h"

namespace brine::ipc {

namespace bip = boost::interprocess;

struct Arena::Heap {
  bip::managed_external_buffer buffer;
};

// ---- BlockHandle ----------------------------------------------------------------------------

BlockHandle& BlockHandle::operator=(BlockHandle&& o) noexcept {
  if (this != &o) {
    reset();
    arena_ = std::exchange(o.arena_, nullptr);
    id_ = o.id_;
  }
  return *this;
}

void BlockHandle::reset() noexcept {
  if (arena_ != nullptr) std::exchange(arena_, nullptr)->release(id_);
}

BlockHandle BlockHandle::share() const noexcept { return arena_ != nullptr ? arena_->retain(id_) : BlockHandle(); }

std::byte* BlockHandle::data() const noexcept { return arena_->base() + arena_->extent(id_).offset; }
std::size_t BlockHandle::size() const noexcept { return arena_->extent(id_).size; }

fb::BufferRef BlockHandle::ref(uint64_t offset, uint64_t length) const noexcept {
  return fb::BufferRef(id_, arena_->extent(id_).generation, offset, length);
}

// ---- ArenaView ------------------------------------------------------------------------------

ArenaView::ArenaView(std::byte* base, SegmentHeader* header) noexcept : base_(base), header_(header) {
  try {
    const std::size_t chunks = (header->arena_size + kPopulateChunk - 1) / kPopulateChunk;
    warm_ = std::shared_ptr<std::atomic<uint64_t>[]>(new std::atomic<uint64_t>[(chunks + 63) / 64]());
  } catch (...) {
    warm_ = nullptr;
  }
}

namespace {
std::atomic<bool> populate_unsupported{false};  // the kernel predates MADV_POPULATE_* (5.14)
}  // namespace

void ArenaView::populate(const void* data, std::size_t size, bool write) const noexcept {
#if defined(MADV_POPULATE_WRITE) && defined(MADV_POPULATE_READ)
  if (size < kPopulateMinBytes || base_ == nullptr || populate_unsupported.load(std::memory_order_relaxed)) return;
  const std::optional<std::pair<std::size_t, std::size_t>> chunks = chunks_of(data, size);
  if (!chunks) return;
  std::byte* const arena = base_ + header_->arena_offset;
  const std::size_t arena_size = header_->arena_size;
  const auto [first, last] = *chunks;
  // Runs of cold chunks, one madvise each.
  for (std::size_t c = first; c <= last;) {
    if (is_warm(c)) {
      ++c;
      continue;
    }
    std::size_t stop = c + 1;
    while (stop <= last && !is_warm(stop)) ++stop;
    std::byte* from = arena + c * kPopulateChunk;
    const std::size_t bytes = std::min(stop * kPopulateChunk, arena_size) - c * kPopulateChunk;
    // The arena starts page-aligned; chunk boundaries are 2 MiB multiples from there.
    if (madvise(from, bytes, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) != 0) {
      if (errno == EINVAL) populate_unsupported.store(true, std::memory_order_relaxed);
      return;  // ENOMEM, EFAULT, EINTR...: the pages fault in as they are touched
    }
    if (warm_) {
      for (std::size_t k = c; k < stop; ++k) warm_[k / 64].fetch_or(uint64_t{1} << (k % 64), std::memory_order_relaxed);
    }
    c = stop;
  }
#else
  (void)data;
  (void)size;
  (void)write;
#endif
}

std::optional<std::pair<std::size_t, std::size_t>> ArenaView::chunks_of(const void* data, std::size_t size) const noexcept {
  std::byte* const arena = base_ + header_->arena_offset;
  const auto* p = static_cast<const std::byte*>(data);
  if (size == 0 || p < arena || p >= arena + header_->arena_size) return std::nullopt;
  const auto at = static_cast<std::size_t>(p - arena);
  return std::pair{at / kPopulateChunk, (std::min(at + size, header_->arena_size) - 1) / kPopulateChunk};
}

bool ArenaView::is_warm(std::size_t chunk) const noexcept {
  return warm_ && (warm_[chunk / 64].load(std::memory_order_relaxed) >> (chunk % 64) & 1) != 0;
}

bool ArenaView::cold(const void* data, std::size_t size) const noexcept {
  if (size == 0) return true;
  const std::optional<std::pair<std::size_t, std::size_t>> chunks = chunks_of(data, size);
  if (!chunks) return false;
  for (std::size_t c = chunks->first; c <= chunks->second; ++c) {
    if (!is_warm(c)) return true;
  }
  return false;
}

std::span<const std::byte> ArenaView::resolve(const fb::BufferRef& ref) const {
  if (ref.block() >= header_->max_blocks) {
    throw DecodeError("brine: a reference names arena block " + std::to_string(ref.block()) + " of " +
                      std::to_string(header_->max_blocks));
  }
  const BlockDesc& b = blocks()[ref.block()];
  if (b.refs.load(std::memory_order_acquire) == 0 || b.generation.load(std::memory_order_acquire) != ref.generation()) {
    throw DecodeError("brine: a reference names arena block " + std::to_string(ref.block()) +
                      " which was freed or reused (stale generation)");
  }
  const uint64_t size = b.size;
  if (ref.offset() > size || ref.length() > size - ref.offset()) {
    throw DecodeError("brine: a reference to bytes [" + std::to_string(ref.offset()) + ", +" +
                      std::to_string(ref.length()) + ") lies outside its arena block of " + std::to_string(size) +
                      " bytes");
  }
  const uint64_t offset = b.offset;
  if (offset < header_->arena_offset || size > header_->arena_size ||
      offset - header_->arena_offset > header_->arena_size - size) {
    throw DecodeError("brine: arena block " + std::to_string(ref.block()) + " lies outside the arena");
  }
  populate(base_ + offset + ref.offset(), static_cast<std::size_t>(ref.length()), false);
  return {base_ + offset + ref.offset(), static_cast<std::size_t>(ref.length())};
}

std::span<const std::byte> Arena::resolve(const fb::BufferRef& ref) const {
  if (ref.block() >= header_->max_blocks) {
    throw DecodeError("brine: a reference names arena block " + std::to_string(ref.block()) + " of " +
                      std::to_string(header_->max_blocks));
  }
  const Extent& x = extents_[ref.block()];
  if (x.refs.load(std::memory_order_acquire) == 0 || x.generation != ref.generation()) {
    throw DecodeError("brine: a reference names arena block " + std::to_string(ref.block()) +
                      " which was freed or reused (stale generation)");
  }
  if (ref.offset() > x.size || ref.length() > x.size - ref.offset()) {
    throw DecodeError("brine: a reference to bytes [" + std::to_string(ref.offset()) + ", +" +
                      std::to_string(ref.length()) + ") lies outside its arena block of " + std::to_string(x.size) +
                      " bytes");
  }
  populate(base_ + x.offset + ref.offset(), static_cast<std::size_t>(ref.length()), false);
  return {base_ + x.offset + ref.offset(), static_cast<std::size_t>(ref.length())};
}

std::optional<fb::BufferRef> ArenaView::locate(const void* data, std::size_t size) const noexcept {
  const auto* p = static_cast<const std::byte*>(data);
  const std::byte* begin = base_ + header_->arena_offset;
  if (p < begin || p + size > begin + header_->arena_size) return std::nullopt;
  const auto off = static_cast<uint64_t>(p - base_);
  const BlockDesc* table = blocks();
  for (uint32_t i = 0; i < header_->max_blocks; ++i) {
    const BlockDesc& b = table[i];
    if (b.refs.load(std::memory_order_acquire) != 0 && off >= b.offset && off + size <= b.offset + b.size) {
      return fb::BufferRef(i, b.generation.load(std::memory_order_relaxed), off - b.offset, size);
    }
  }
  return std::nullopt;
}

// ---- Arena ----------------------------------------------------------------------------------

Arena::Arena(std::byte* base, SegmentHeader* header, int fd)
    : ArenaView(base, header),
      heap_(new Heap{bip::managed_external_buffer(bip::create_only, base + header->arena_offset,
                                                  header->arena_size)}),
      extents_(new Extent[header->max_blocks]),
      fd_(fd) {
  auto* links = reinterpret_cast<std::atomic<uint32_t>*>(base + header->block_links_offset);
  for (uint32_t i = header->max_blocks; i-- > 0;) header->free_blocks.push(links, i);
}

Arena::~Arena() = default;

void Arena::copy_in(std::byte* dst, const void* src, std::size_t size) noexcept {
  if (size >= kPopulateMinBytes && fd_ >= 0 && cold(dst, size)) {
    const auto* from = static_cast<const std::byte*>(src);
    auto at = static_cast<off_t>(dst - base_);
    std::size_t left = size;
    while (left != 0) {
      const ssize_t n = ::pwrite(fd_, from, std::min<std::size_t>(left, std::size_t{1} << 30), at);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // e.g. a sealed or odd fd: the mapping below does the rest
      from += n;
      at += n;
      left -= static_cast<std::size_t>(n);
    }
    if (left == 0) return;
    dst += size - left;
    src = from;
    size = left;
  }
  populate(dst, size, true);
  if (size != 0) std::memcpy(dst, src, size);
}

BlockHandle Arena::try_allocate(std::size_t size, std::size_t align) noexcept {
  auto* links = reinterpret_cast<std::atomic<uint32_t>*>(base_ + header_->block_links_offset);
  uint32_t id = 0;
  if (!header_->free_blocks.pop(links, id)) return {};
  void* p = nullptr;
  {
    std::lock_guard lock(mu_);
    p = heap_->buffer.allocate_aligned(size == 0 ? 1 : size, static_cast<bip::managed_external_buffer::size_type>(align),
                                       std::nothrow);
    // The heap's bookkeeping lives in shared memory: never trust an answer outside the arena.
    const std::byte* begin = base_ + header_->arena_offset;
    const auto* q = static_cast<const std::byte*>(p);
    if (p != nullptr && (q < begin || size > header_->arena_size || q - begin > std::ptrdiff_t(header_->arena_size - size))) {
      p = nullptr;
    }
    if (p != nullptr) by_offset_.emplace(static_cast<uint64_t>(static_cast<std::byte*>(p) - base_), id);
  }
  if (p == nullptr) {
    header_->free_blocks.push(links, id);
    return {};
  }
  Extent& x = extents_[id];
  x.offset = static_cast<uint64_t>(static_cast<std::byte*>(p) - base_);
  x.size = size;
  x.generation += 1;
  BlockDesc& b = blocks()[id];  // the shared copy, for workers and tools
  b.offset = x.offset;
  b.size = x.size;
  b.generation.store(x.generation, std::memory_order_relaxed);
  x.refs.store(1, std::memory_order_release);
  b.refs.store(1, std::memory_order_release);
  header_->arena_used.fetch_add(size, std::memory_order_relaxed);
  return BlockHandle(this, id);
}

BlockHandle Arena::allocate(std::size_t size, std::size_t align) {
  BlockHandle h = try_allocate(size, align);
  if (!h) {
    throw ArenaExhausted("brine: the shared arena cannot hold " + std::to_string(size) + " more bytes (" +
                         std::to_string(used()) + " of " + std::to_string(capacity()) + " bytes in use in " +
                         std::to_string(live_blocks()) + " blocks); raise PoolOptions::arena_bytes, or release "
                         "futures and SharedVectors you no longer need");
  }
  return h;
}

BlockHandle Arena::find(const void* data, std::size_t size) noexcept {
  const auto* p = static_cast<const std::byte*>(data);
  const std::byte* begin = base_ + header_->arena_offset;
  if (p < begin || p + size > begin + header_->arena_size) return {};
  const auto off = static_cast<uint64_t>(p - base_);
  std::lock_guard lock(mu_);
  auto it = by_offset_.upper_bound(off);
  if (it == by_offset_.begin()) return {};
  --it;
  Extent& x = extents_[it->second];
  if (off + size > x.offset + x.size) return {};
  // Only while someone still holds it: a block whose last holder is letting go right now is
  // already on its way to the free list.
  uint32_t refs = x.refs.load(std::memory_order_relaxed);
  do {
    if (refs == 0) return {};
  } while (!x.refs.compare_exchange_weak(refs, refs + 1, std::memory_order_acq_rel));
  mirror_refs(it->second, refs + 1);
  return BlockHandle(this, it->second);
}

BlockHandle Arena::retain(uint32_t id) noexcept {
  mirror_refs(id, extents_[id].refs.fetch_add(1, std::memory_order_relaxed) + 1);
  return BlockHandle(this, id);
}

void Arena::release(uint32_t id) noexcept {
  Extent& x = extents_[id];
  const uint32_t left = x.refs.fetch_sub(1, std::memory_order_acq_rel) - 1;
  mirror_refs(id, left);
  if (left != 0) return;
  {
    std::lock_guard lock(mu_);
    by_offset_.erase(x.offset);
    heap_->buffer.deallocate(base_ + x.offset);
  }
  header_->arena_used.fetch_sub(x.size, std::memory_order_relaxed);
  header_->free_blocks.push(reinterpret_cast<std::atomic<uint32_t>*>(base_ + header_->block_links_offset), id);
}

std::size_t Arena::used() const noexcept { return header_->arena_used.load(std::memory_order_relaxed); }
std::size_t Arena::capacity() const noexcept { return header_->arena_size; }
std::size_t Arena::live_blocks() const noexcept {
  std::size_t n = 0;
  for (uint32_t i = 0; i < header_->max_blocks; ++i) n += extents_[i].refs.load(std::memory_order_relaxed) != 0;
  return n;
}

}  // namespace brine::ipc
