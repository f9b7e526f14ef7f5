// Waiting across processes: spin briefly, then sleep on a futex in shared memory.
//
// EventCount is the sleeping half (after Dmitry Vyukov's eventcount, as used in Eigen and
// Folly): a waiter reads `seq`, then arms the count (`armed` = 1), re-checks its condition and
// sleeps on `seq` with the value it read; a notifier that changed the condition disarms it and,
// only if it was armed, bumps `seq` and makes the wake syscall. Both sides read-modify-write
// `armed` between "publish" and "check the other side": the two RMWs are ordered, so either
// the waiter's RMW reads the notifier's and then sees the new state, or the notifier's reads
// the waiter's arm (or a later one) and wakes it (Dekker without fences, which ThreadSanitizer
// cannot model). A notifier that finds the count disarmed knows a wake-up is already under
// way for every sleeper armed before it: the disarming notifier bumped `seq` after those
// sleepers read it, so their futex wait returns. A stream of notifies to a sleeper that has
// not run yet therefore costs one syscall, not one per notify (on a loaded VM the woken side
// can take tens of microseconds to run, and the notifier used to wake it again on every push).
//
// Lives in shared memory: standard layout, lock-free atomics, no pointers.
//
// How long to spin (WaitPolicy::kAdaptive, the default; SpinLearner below): spinning longer
// than a sleep-and-wake-up costs can at most double the cost of a wait, and spinning at least
// that long catches every event that a sleep would have made late (the competitive
// spin-then-block bound of Karlin, Li, Manasse and Owicki, SOSP 1991). So the budget is the
// measured cost of a wake-up on this machine: the notifier stamps the time of each wake call
// (EventCount::wake_ns) and the woken waiter averages now - stamp. Then three vetoes, each a
// reason the spin cannot pay off:
//  - recent events came later than a wake-up costs (inter-arrival learning: an average of the
//    time from the start of each wait to its event, each sample capped at twice the wake cost):
//    sleep at once, as a spin would only burn the time;
//  - the counterpart last notified from the CPU this waiter runs on (EventCount::notifier_cpu):
//    it cannot run while we spin;
//  - the machine is oversubscribed (more runnable threads than CPUs, /proc/loadavg, sampled
//    every 100 ms): a spinner takes the CPU somebody else needs.
// The budget is capped by WaitPolicy::max_spin_ns. A fixed spin_ns and sleep = false (pinned
// processes on separate cores) bypass the learning.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace brine::ipc {

inline constexpr std::size_t kCacheLineSize = 64;

// How a waiter waits: busy polling (with a pause instruction) for a while, then futex sleep.
// spin_ns = kAdaptive (the default) learns the spin from the machine and the traffic (see
// above); any other value spins that long. Pure spinning (sleep = false) is only sensible for
// pinned processes on separate cores.
struct WaitPolicy {
  static constexpr uint32_t kAdaptive = UINT32_MAX;
  uint32_t spin_ns = kAdaptive;
  bool sleep = true;
  uint32_t max_spin_ns = 100'000;  // the adaptive budget never exceeds this
  bool operator==(const WaitPolicy&) const = default;
};

void futex_wait(std::atomic<uint32_t>* word, uint32_t expected, std::chrono::nanoseconds timeout) noexcept;
void futex_wake_all(std::atomic<uint32_t>* word) noexcept;
void cpu_relax() noexcept;
uint64_t monotonic_ns() noexcept;
int current_cpu() noexcept;        // the CPU the calling thread runs on (-1 if unknown)
bool machine_oversubscribed() noexcept;  // more runnable threads than CPUs (sampled, cached 100 ms)

struct EventCount;

// What one waiter (or the waiters of one pool side) learned; process-local, safe to share
// between threads (relaxed atomics: a lost update only delays the learning).
class SpinLearner {
 public:
  static constexpr uint64_t kInitialWakeNs = 20'000;
  // How long to spin now before sleeping on `ec`.
  uint64_t budget(const EventCount& ec, const WaitPolicy& policy) const noexcept;
  // After a wait: its event came `after_ns` after the wait began; if it slept and was woken by a
  // notify, `wake_ns` is how late it woke (0: unknown).
  void record(uint64_t after_ns, uint64_t wake_ns) noexcept;
  uint64_t wake_cost_ns() const noexcept { return wake_.load(std::memory_order_relaxed); }
  uint64_t gap_ns() const noexcept { return gap_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> wake_{kInitialWakeNs};  // average wake-up latency
  std::atomic<uint64_t> gap_{0};                // average time to the event, capped samples
};

struct EventCount {
  std::atomic<uint32_t> seq{0};
  std::atomic<uint32_t> armed{0};  // 1: a waiter may sleep on the current seq (see above)
  std::atomic<int32_t> notifier_cpu{-1};  // where the last notify() ran
  std::atomic<uint64_t> wake_ns{0};       // CLOCK_MONOTONIC of the last wake()

  // Call after publishing the state a waiter may be sleeping on.
  void notify() noexcept {
    notifier_cpu.store(current_cpu(), std::memory_order_relaxed);
    wake_if_sleepers();
  }
  // Wakes the sleepers, if any, without claiming to be the counterpart (no notifier_cpu).
  void wake_if_sleepers() noexcept {
    if (armed.exchange(0, std::memory_order_seq_cst) != 0) wake();
  }
  // Wakes every sleeper whatever the recorded state (shutdown, death notices).
  void wake() noexcept {
    wake_ns.store(monotonic_ns(), std::memory_order_relaxed);
    seq.fetch_add(1, std::memory_order_seq_cst);
    futex_wake_all(&seq);
  }

  // Returns when ready() is true, or false once `timeout` passed without it.
  // With a learner, an adaptive policy spins as it says and the wait teaches it.
  template <class Ready>
  bool wait(Ready&& ready, const WaitPolicy& policy,
            std::chrono::nanoseconds timeout = std::chrono::nanoseconds::max(),
            SpinLearner* learner = nullptr) noexcept {
    if (ready()) return true;
    const uint64_t start = monotonic_ns();
    const uint64_t limit = timeout == std::chrono::nanoseconds::max() ? UINT64_MAX : start + timeout.count();
    const uint64_t spin = learner != nullptr                      ? learner->budget(*this, policy)
                          : policy.spin_ns == WaitPolicy::kAdaptive ? 2000
                                                                    : policy.spin_ns;
    const uint64_t spin_until = start + spin;
    uint64_t now = start;
    // One pause per check: a pause costs ~140 cycles on recent x86, so batching them would
    // add up to a microsecond to the time it takes to notice the other side.
    for (uint32_t i = 0; !policy.sleep || now < spin_until; ++i) {
      cpu_relax();
      if (ready()) {
        if (learner != nullptr) learner->record(monotonic_ns() - start, 0);
        return true;
      }
      if ((i & 63) == 0) now = monotonic_ns();
      if (now >= limit) return false;
    }
    bool ok = true;
    const uint64_t slept_at = monotonic_ns();
    for (;;) {
      // seq first, then arm: a notifier that disarms after our arm bumps seq after we read
      // it, so the futex wait below cannot sleep through its wake-up.
      const uint32_t s = seq.load(std::memory_order_seq_cst);
      armed.exchange(1, std::memory_order_seq_cst);
      if (ready()) break;
      now = monotonic_ns();
      if (now >= limit) {
        ok = false;
        break;
      }
      futex_wait(&seq, s, std::chrono::nanoseconds(limit == UINT64_MAX ? INT64_MAX : int64_t(limit - now)));
    }
    if (ok && learner != nullptr) {
      // Woken by a notify after we slept: the event happened at its stamp, and we ran that late.
      const uint64_t stamp = wake_ns.load(std::memory_order_relaxed);
      const uint64_t woke = monotonic_ns();
      if (stamp >= slept_at && stamp <= woke) {
        learner->record(stamp - start, woke - stamp);
      } else {
        learner->record(woke - start, 0);
      }
    }
    return ok;
  }
};
static_assert(std::atomic<uint32_t>::is_always_lock_free);
static_assert(std::is_standard_layout_v<EventCount>);

// Wakes a thread that naps while others watch for events, only when nobody watches any more.
// The pool's collector thread naps on `seq` while waiters collect their own results
// (future.h). A submit that finds nobody collecting does not wake it: it sets `wanted`, and
// the worker that completes the next task clears the flag and makes the one wake syscall. A
// waiter that starts collecting clears the flag first, so the usual submit-then-get() wakes
// nobody but the waiter. Lives in shared memory (the doorbell's page, which workers write): a
// worker that scribbles here can only delay the collector until its nap times out.
struct CollectorBell {
  std::atomic<uint32_t> seq{0};
  std::atomic<uint32_t> wanted{0};

  // Asks the next completion to wake the napper. Call before the task is published.
  void want() noexcept {
    if (wanted.load(std::memory_order_relaxed) == 0) wanted.store(1, std::memory_order_seq_cst);
  }
  // Somebody watches now (a waiter collects, or the napper itself woke up).
  void unwant() noexcept {
    if (wanted.load(std::memory_order_relaxed) != 0) wanted.store(0, std::memory_order_relaxed);
  }
  // A completion was published: wake the napper if it was wanted.
  void ring_if_wanted() noexcept {
    if (wanted.load(std::memory_order_seq_cst) != 0 && wanted.exchange(0, std::memory_order_seq_cst) != 0) wake();
  }
  void wake() noexcept {
    seq.fetch_add(1, std::memory_order_seq_cst);
    futex_wake_all(&seq);
  }
};
static_assert(std::is_standard_layout_v<CollectorBell>);

}  // namespace brine::ipc
