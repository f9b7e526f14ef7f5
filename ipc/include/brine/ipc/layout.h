// The layout of a pool segment. Everything here is placed in shared memory: standard layout,
// fixed width, offsets instead of pointers, lock-free atomics only (static_asserts below).
//
//   page 0      SegmentHeader (offsets, config, counters, free lists)          workers: read
//   page 1      SegmentHeader::doorbell                                        workers: write
//   pages       SlotHeader[slot_count]                                         workers: write
//   pages       task envelopes, slot_bytes per slot (parent writes)            workers: read
//   pages       result envelopes, slot_bytes per slot (worker writes)          workers: write
//   pages       WorkerControl[max_workers], one page each                      worker w: its own
//   pages       per worker: submission ring + completion ring                  worker w: its own
//   pages       BlockDesc[max_blocks], free-list links                         workers: read
//   pages       arena (Boost.Interprocess heap, parent-only bookkeeping)       workers: read,
//                                                                              except blocks
//                                                                              granted to them
//
// Who writes what:
//  - the parent formats everything, owns slot and block allocation and the arena heap;
//  - a worker owns the consumer side of its submission ring, the producer side of its
//    completion ring, its WorkerControl counters, and the slot of the task it is running
//    between claiming it (the CAS Queued -> Running on the slot's state word, with the ticket
//    its task message carried) and pushing its completion;
//  - a worker never takes a lock: if it dies at any instant, the parent's state stays
//    consistent (a ring push is one release store; slot states are single CAS transitions).
//
// Protection (iceoryx's rule: a subscriber maps the publisher's data read-only): every region
// starts on a page, and a worker maps read-only all but the rows marked "write" above (see
// protect_for_worker in worker.cc). So a task that casts away const and overruns an argument,
// another task's block or its own result block faults in that worker alone (WorkerCrashed,
// SIGSEGV), and nothing the parent's allocator trusts (free lists, links, the heap's
// bookkeeping) is ever writable by a worker: blocks granted to a worker are whole pages with
// no bookkeeping inside, writable only while its task runs. Each writable region is followed
// by one the writer may only read, so running off its end faults too.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "brine/ipc/spsc_ring.h"
#include "brine/ipc/wait.h"

namespace brine::ipc {

inline constexpr uint64_t kSegmentMagic = 0x31454e4952423a42ull;  // "B:BRINE1"
// 3: issue 11/17's layout (separate task/result envelope regions, page-aligned worker-writable
// regions) merged with issue 13's (64-bit slot state word with a dispatch ticket, run_ns).
// 4: the collector's bell on the doorbell's page.
inline constexpr uint32_t kLayoutVersion = 4;
// The protection granule: regions a worker may write start and end on this boundary.
inline constexpr std::size_t kPageSize = 4096;

// Ring messages: kind in the top byte, a slot index in the low 24 bits and, for kTask, the
// slot's dispatch ticket in bits 24..55 (see SlotHeader::state).
enum class Message : uint8_t { kTask = 1, kStop = 2, kDone = 3, kAllocRequest = 4 };
inline constexpr uint32_t kMaxSlots = 1u << 24;
inline constexpr uint64_t make_message(Message kind, uint32_t arg) noexcept {
  return (uint64_t(kind) << 56) | (arg & (kMaxSlots - 1));
}
inline constexpr uint64_t make_task_message(uint32_t slot, uint32_t ticket) noexcept {
  return make_message(Message::kTask, slot) | (uint64_t(ticket) << 24);
}
inline constexpr Message message_kind(uint64_t m) noexcept { return Message(m >> 56); }
inline constexpr uint32_t message_arg(uint64_t m) noexcept { return uint32_t(m) & (kMaxSlots - 1); }
inline constexpr uint32_t message_ticket(uint64_t m) noexcept { return uint32_t(m >> 24); }

// A lock-free stack of indices (Treiber stack with a 32-bit ABA tag in the head word), used
// as the free list of slots and arena blocks. Links live in a separate array of the segment.
struct IndexStack {
  std::atomic<uint64_t> head{0};  // (tag << 32) | (index + 1); 0 in the low half = empty

  void push(std::atomic<uint32_t>* links, uint32_t index) noexcept {
    uint64_t h = head.load(std::memory_order_relaxed);
    for (;;) {
      links[index].store(uint32_t(h), std::memory_order_relaxed);
      const uint64_t next = (((h >> 32) + 1) << 32) | (uint64_t(index) + 1);
      if (head.compare_exchange_weak(h, next, std::memory_order_release, std::memory_order_relaxed)) return;
    }
  }
  bool pop(std::atomic<uint32_t>* links, uint32_t& index) noexcept {
    uint64_t h = head.load(std::memory_order_acquire);
    for (;;) {
      const uint32_t top = uint32_t(h);
      if (top == 0) return false;
      const uint32_t below = links[top - 1].load(std::memory_order_relaxed);
      const uint64_t next = (((h >> 32) + 1) << 32) | below;
      if (head.compare_exchange_weak(h, next, std::memory_order_acquire, std::memory_order_acquire)) {
        index = top - 1;
        return true;
      }
    }
  }
};

// kStarting: forked or exec'd, not yet in its serving code (written by the parent);
// kInitializing: serving, running the pool's initializer (written by the worker).
enum class WorkerState : uint32_t { kEmpty = 0, kStarting, kIdle, kBusy, kExited, kInitializing };

// Why a worker exited on its own (written just before _exit; a crash leaves kNone).
enum class ExitReason : uint32_t { kNone = 0, kStopped, kRetired, kIdle, kInitFailed, kMemory };

// What a worker needs to know, whatever way it was started (fork, forkserver or exec).
struct WorkerConfig {
  uint64_t reference_threshold = 0;
  uint64_t initializer_id = 0;  // registered function run once at start; 0: none
  uint64_t idle_timeout_ns = 0;  // exit after this long without a task; 0: never
  uint32_t spin_ns = 0;      // WaitPolicy::spin_ns (kAdaptive: learned)
  uint32_t max_spin_ns = 0;  // WaitPolicy::max_spin_ns
  uint32_t sleep = 1;
  uint32_t pin = 0;
  uint32_t max_tasks = 0;  // exit after this many tasks (max_tasks_per_child); 0: never
  uint64_t max_rss = 0;    // exit between tasks once resident memory passes this; 0: never
};
static_assert(std::is_trivially_copyable_v<WorkerConfig>);

// One per worker index, each on its own page (only its worker may write it); a respawned worker
// reuses its index.
struct alignas(kPageSize) WorkerControl {
  std::atomic<int32_t> pid{0};
  std::atomic<uint32_t> state{0};         // WorkerState, written by the worker
  std::atomic<uint32_t> current_slot{0};  // slot + 1 of the task running, 0 when idle
  std::atomic<uint64_t> tasks_done{0};
  std::atomic<uint64_t> busy_ns{0};
  std::atomic<uint64_t> task_started_ns{0};  // CLOCK_MONOTONIC start of the current task
  std::atomic<uint32_t> exit_reason{0};      // ExitReason
  std::atomic<uint64_t> rss_bytes{0};        // resident memory after its last task (when measured)
  uint64_t submit_ring = 0;    // offset of the submission ring (parent -> worker)
  uint64_t complete_ring = 0;  // offset of the completion ring (worker -> parent)
  char init_error[256] = {};   // the initializer's exception, when exit_reason is kInitFailed
};

enum class SlotState : uint32_t { kFree = 0, kQueued, kRunning, kDone, kCancelled };

// A slot's state word: the SlotState in the low half, the dispatch ticket in the high half.
// The parent raises the ticket when it takes a queued task back from one worker to give it to
// another (pool.cc, "Scheduling"); a worker claims a task only with the ticket its message
// carried, so a message left behind in the first worker's ring can never claim the task.
// The word lives in the SlotHeader array, which workers map writable (they claim by CAS).
inline constexpr uint64_t slot_word(uint32_t ticket, SlotState s) noexcept { return (uint64_t(ticket) << 32) | uint32_t(s); }
inline constexpr SlotState word_state(uint64_t w) noexcept { return SlotState(uint32_t(w)); }
inline constexpr uint32_t word_ticket(uint64_t w) noexcept { return uint32_t(w >> 32); }

// A task slot's header. Its task envelope is written by the parent into the slot's row of the
// task-envelope region (read-only to workers), or into an arena block; the worker writes the
// result envelope into the slot's row of the result region, or into a block granted to it.
// Workers write the state word, result fields and run_ns here (the slot header pages are
// worker-writable); nothing the parent's allocator trusts lives in this header.
struct alignas(kCacheLineSize) SlotHeader {
  std::atomic<uint64_t> state{0};  // slot_word(ticket, SlotState)
  std::atomic<uint32_t> grant{0};  // kAllocRequest handshake: 0 pending, 1 granted, 2 refused
  uint64_t task_id = 0;
  uint32_t envelope_block = 0;  // task (parent) then result (worker): 0 inline in its region; else block id + 1
  uint32_t envelope_size = 0;
  uint64_t request_size = 0;  // kAllocRequest: bytes wanted
  uint32_t grant_block = 0;   // kAllocRequest answer
  uint32_t grant_generation = 0;
  std::atomic<uint64_t> timeout_ns{0};  // the task's run-time limit; 0: none (read by the monitor)
  uint64_t result_copied = 0;  // bytes the worker copied to send the result (byte-copy counter)
  uint64_t run_ns = 0;         // how long the task ran, written by the worker before kDone
};

// An arena block. refs counts holders (tasks in flight, futures, views, SharedVectors); the
// generation changes on every reuse so a stale BufferRef is rejected.
struct BlockDesc {
  std::atomic<uint32_t> refs{0};
  std::atomic<uint32_t> generation{0};
  uint64_t offset = 0;  // from the segment base
  uint64_t size = 0;
};

struct alignas(kPageSize) SegmentHeader {  // page-aligned: its doorbell has a page of its own
  uint64_t magic = 0;
  uint32_t version = 0;
  uint32_t header_size = 0;
  uint64_t total_size = 0;
  int32_t owner_pid = 0;
  uint32_t max_workers = 0;
  uint32_t ring_capacity = 0;
  uint32_t slot_count = 0;
  uint32_t slot_size = 0;  // bytes per SlotHeader (the stride of the slot header array)
  uint32_t max_blocks = 0;
  uint32_t slot_bytes = 0;  // bytes of inline envelope per slot, in each of the two envelope regions
  uint64_t workers_offset = 0;
  uint64_t rings_offset = 0;     // worker w's ring pair at rings_offset + w * ring_pair_size
  uint64_t ring_pair_size = 0;   // a multiple of kPageSize
  uint64_t slots_offset = 0;         // SlotHeader[slot_count]
  uint64_t task_data_offset = 0;     // slot s's inline task envelope at + s * slot_bytes
  uint64_t result_data_offset = 0;   // slot s's inline result envelope at + s * slot_bytes
  uint64_t blocks_offset = 0;
  uint64_t slot_links_offset = 0;
  uint64_t block_links_offset = 0;
  uint64_t arena_offset = 0;
  uint64_t arena_size = 0;
  uint64_t image_id = 0;  // build identity of the parent binary
  WorkerConfig config;
  std::atomic<uint32_t> live_workers{0};
  std::atomic<uint64_t> arena_used{0};
  std::atomic<uint64_t> tasks_submitted{0};
  std::atomic<uint64_t> tasks_completed{0};
  std::atomic<uint64_t> workers_crashed{0};       // died running a task
  std::atomic<uint64_t> idle_workers_crashed{0};  // died with no task running
  std::atomic<uint64_t> workers_recycled{0};      // replaced for passing max_worker_rss
  IndexStack free_slots;
  IndexStack free_blocks;
  // The parent sleeps here for completions. On a page of its own: the one part of the header
  // that workers write.
  alignas(kPageSize) EventCount doorbell;
  // Wakes the parent's napping collector when nobody else watches completions (wait.h). On the
  // doorbell's line: a completion touches that line anyway.
  CollectorBell collector_bell;
};

static_assert(std::is_standard_layout_v<SegmentHeader>);
static_assert(offsetof(SegmentHeader, doorbell) == kPageSize && sizeof(SegmentHeader) == 2 * kPageSize);
static_assert(sizeof(WorkerControl) == kPageSize);
static_assert(std::is_standard_layout_v<WorkerControl>);
static_assert(std::is_standard_layout_v<SlotHeader>);
static_assert(std::is_standard_layout_v<BlockDesc>);
static_assert(std::atomic<int32_t>::is_always_lock_free && std::atomic<uint64_t>::is_always_lock_free);

}  // namespace brine::ipc
