// Waiting across processes: spin briefly, then sleep on a futex in shared memory.
//
// EventCount is the sleeping half (after Dmitry Vyukov's eventcount, as used in Eigen and
// Folly): a waiter announces itself in `sleepers`, re-checks its condition and sleeps on `seq`;
// a notifier that changed the condition makes the wake syscall only when a sleeper is
// recorded. Both sides read-modify-write `sleepers` (acq_rel) between "publish" and "check the
// other side": the two RMWs are ordered, so either the waiter's RMW reads the notifier's and
// then sees the new state, or the notifier's reads the waiter's and wakes it (Dekker without
// fences, which ThreadSanitizer cannot model).
//
// Lives in shared memory: standard layout, lock-free atomics, no pointers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace brine::ipc {

inline constexpr std::size_t kCacheLineSize = 64;

// How a waiter waits. spin_ns of busy polling (with a pause instruction), then futex sleep.
// Pure spinning (sleep = false) is only sensible for pinned processes on separate cores.
struct WaitPolicy {
  uint32_t spin_ns = 2000;
  bool sleep = true;
  bool operator==(const WaitPolicy&) const = default;
};

void futex_wait(std::atomic<uint32_t>* word, uint32_t expected, std::chrono::nanoseconds timeout) noexcept;
void futex_wake_all(std::atomic<uint32_t>* word) noexcept;
void cpu_relax() noexcept;
uint64_t monotonic_ns() noexcept;

struct EventCount {
  std::atomic<uint32_t> seq{0};
  std::atomic<uint32_t> sleepers{0};

  // Call after publishing the state a waiter may be sleeping on.
  void notify() noexcept {
    if (sleepers.fetch_add(0, std::memory_order_acq_rel) != 0) wake();
  }
  // Wakes every sleeper whatever the recorded state (shutdown, death notices).
  void wake() noexcept {
    seq.fetch_add(1, std::memory_order_seq_cst);
    futex_wake_all(&seq);
  }

  // Returns when ready() is true, or false once `timeout` passed without it.
  template <class Ready>
  bool wait(Ready&& ready, const WaitPolicy& policy,
            std::chrono::nanoseconds timeout = std::chrono::nanoseconds::max()) noexcept {
    if (ready()) return true;
    const uint64_t start = monotonic_ns();
    const uint64_t limit = timeout == std::chrono::nanoseconds::max() ? UINT64_MAX : start + timeout.count();
    const uint64_t spin_until = start + policy.spin_ns;
    uint64_t now = start;
    // One pause per check: a pause costs ~140 cycles on recent x86, so batching them would
    // add up to a microsecond to the time it takes to notice the other side.
    for (uint32_t i = 0; !policy.sleep || now < spin_until; ++i) {
      cpu_relax();
      if (ready()) return true;
      if ((i & 63) == 0) now = monotonic_ns();
      if (now >= limit) return false;
    }
    sleepers.fetch_add(1, std::memory_order_acq_rel);
    bool ok = true;
    for (;;) {
      const uint32_t s = seq.load(std::memory_order_seq_cst);
      if (ready()) break;
      now = monotonic_ns();
      if (now >= limit) {
        ok = false;
        break;
      }
      futex_wait(&seq, s, std::chrono::nanoseconds(limit == UINT64_MAX ? INT64_MAX : int64_t(limit - now)));
    }
    sleepers.fetch_sub(1, std::memory_order_relaxed);
    return ok;
  }
};
static_assert(std::atomic<uint32_t>::is_always_lock_free);
static_assert(std::is_standard_layout_v<EventCount>);

}  // namespace brine::ipc
