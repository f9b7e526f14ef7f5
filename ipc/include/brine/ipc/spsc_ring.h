// SpscRing: a bounded single-producer single-consumer queue of 64-bit messages that lives in
// shared memory, between two processes.
//
// Algorithm: Lamport's ring with the cached-index refinement of rigtorp/SPSCQueue and
// Vyukov: each index sits on its own cache line and each side keeps a private copy of the
// other side's index, re-reading the shared one only when the ring looks full (producer) or
// empty (consumer). Storage is inline: the control block is followed directly by `capacity`
// 64-bit cells, so the ring holds no pointer and maps at any address.
//
// Publication: the producer writes the cell, then stores `write` with release; the consumer
// loads `write` with acquire before reading the cell (and symmetrically for `read`). A process
// that dies between the two leaves the ring as if the push or pop never happened.
//
// Thread safety: exactly one producer and one consumer at a time (per side, callers serialize
// themselves). try_push/try_pop are wait-free and noexcept; full/empty is `false`, not an error.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "brine/ipc/wait.h"

namespace brine::ipc {

struct alignas(kCacheLineSize) SpscRingControl {
  alignas(kCacheLineSize) std::atomic<uint64_t> write{0};  // producer's line
  uint64_t read_cache = 0;
  alignas(kCacheLineSize) std::atomic<uint64_t> read{0};  // consumer's line
  uint64_t write_cache = 0;
  alignas(kCacheLineSize) EventCount consumer_wake;  // the consumer sleeps here when empty
  EventCount producer_wake;                          // the producer sleeps here when full
  uint32_t capacity = 0;                             // a power of two
};
static_assert(std::is_standard_layout_v<SpscRingControl>);
static_assert(std::atomic<uint64_t>::is_always_lock_free);

class SpscRing {
 public:
  // Bytes of shared memory a ring of `capacity` cells needs (control block + cells).
  static constexpr std::size_t bytes_for(uint32_t capacity) noexcept {
    return sizeof(SpscRingControl) + std::size_t{capacity} * sizeof(uint64_t);
  }
  // Formats a ring in place at `memory` (suitably aligned, bytes_for(capacity) bytes).
  static SpscRing create(void* memory, uint32_t capacity) noexcept;
  // Attaches to a ring formatted by create().
  static SpscRing attach(void* memory) noexcept;
  SpscRing() = default;

  bool try_push(uint64_t message) noexcept {
    const uint64_t w = c_->write.load(std::memory_order_relaxed);
    if (w - c_->read_cache == c_->capacity) {
      c_->read_cache = c_->read.load(std::memory_order_acquire);
      if (w - c_->read_cache == c_->capacity) return false;
    }
    cells_[w & mask_] = message;
    c_->write.store(w + 1, std::memory_order_release);
    return true;
  }

  bool try_pop(uint64_t& message) noexcept {
    const uint64_t r = c_->read.load(std::memory_order_relaxed);
    if (r == c_->write_cache) {
      c_->write_cache = c_->write.load(std::memory_order_acquire);
      if (r == c_->write_cache) return false;
    }
    message = cells_[r & mask_];
    c_->read.store(r + 1, std::memory_order_release);
    return true;
  }

  // Pushes, then wakes a sleeping consumer. Returns false if the ring is full.
  bool push_and_notify(uint64_t message) noexcept {
    if (!try_push(message)) return false;
    c_->consumer_wake.notify();
    return true;
  }
  // Pops, then wakes a producer sleeping on a full ring.
  bool pop_and_notify(uint64_t& message) noexcept {
    if (!try_pop(message)) return false;
    c_->producer_wake.notify();
    return true;
  }

  bool empty() const noexcept {
    return c_->read.load(std::memory_order_acquire) == c_->write.load(std::memory_order_acquire);
  }
  std::size_t size() const noexcept {
    return c_->write.load(std::memory_order_acquire) - c_->read.load(std::memory_order_acquire);
  }
  uint32_t capacity() const noexcept { return c_->capacity; }
  EventCount& consumer_wake() noexcept { return c_->consumer_wake; }
  EventCount& producer_wake() noexcept { return c_->producer_wake; }

  // Empties the ring. Only when neither side is using it (e.g. its consumer died).
  void reset() noexcept;

 private:
  SpscRing(SpscRingControl* c, uint64_t* cells) noexcept : c_(c), cells_(cells), mask_(c->capacity - 1) {}
  SpscRingControl* c_ = nullptr;
  uint64_t* cells_ = nullptr;
  uint64_t mask_ = 0;
};

}  // namespace brine::ipc
