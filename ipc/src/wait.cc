#include "brine/ipc/wait.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <cstdlib>
#include <thread>

namespace brine::ipc {

void futex_wait(std::atomic<uint32_t>* word, uint32_t expected, std::chrono::nanoseconds timeout) noexcept {
  struct timespec ts;
  struct timespec* tsp = nullptr;
  if (timeout.count() < INT64_MAX) {
    ts.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000);
    tsp = &ts;
  }
  // Shared (not FUTEX_PRIVATE): the word lives in memory mapped by several processes.
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected, tsp, nullptr, 0);
}

void futex_wake_all(std::atomic<uint32_t>* word) noexcept {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

int current_cpu() noexcept { return sched_getcpu(); }

bool machine_oversubscribed() noexcept {
  static std::atomic<uint64_t> checked_at{0};
  static std::atomic<bool> over{false};
  const uint64_t now = monotonic_ns();
  const uint64_t last = checked_at.load(std::memory_order_relaxed);
  if (last != 0 && now - last < 100'000'000) return over.load(std::memory_order_relaxed);
  checked_at.store(now, std::memory_order_relaxed);
  // The fourth field of /proc/loadavg: runnable scheduling entities / all of them.
  char buf[128];
  const int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  const char* p = buf;
  for (int field = 0; field < 3 && p != nullptr; ++field) {
    p = std::strchr(p, ' ');
    if (p != nullptr) ++p;
  }
  if (p == nullptr) return false;
  const long runnable = std::strtol(p, nullptr, 10);
  const long cpus = std::max(1u, std::thread::hardware_concurrency());
  over.store(runnable > cpus, std::memory_order_relaxed);
  return runnable > cpus;
}

uint64_t SpinLearner::budget(const EventCount& ec, const WaitPolicy& policy) const noexcept {
  if (!policy.sleep) return UINT64_MAX;
  if (policy.spin_ns != WaitPolicy::kAdaptive) return policy.spin_ns;
  const uint64_t wake = wake_.load(std::memory_order_relaxed);
  if (gap_.load(std::memory_order_relaxed) > wake) return 0;  // events come rarely: sleep at once
  const int cpu = ec.notifier_cpu.load(std::memory_order_relaxed);
  if (cpu >= 0 && cpu == current_cpu()) return 0;  // the counterpart cannot run while we spin
  if (machine_oversubscribed()) return 0;
  return std::min<uint64_t>(wake, policy.max_spin_ns);
}

void SpinLearner::record(uint64_t after_ns, uint64_t wake_ns) noexcept {
  if (wake_ns != 0) {
    wake_ns = std::clamp<uint64_t>(wake_ns, 500, 1'000'000);
    const uint64_t w = wake_.load(std::memory_order_relaxed);
    wake_.store(w - w / 8 + wake_ns / 8, std::memory_order_relaxed);
  }
  // Capped at twice the wake cost: one long pause must not make a busy stream look idle for
  // long, and the average only needs to tell "sooner than a wake-up" from "later".
  const uint64_t sample = std::min(after_ns, 2 * wake_.load(std::memory_order_relaxed));
  const uint64_t g = gap_.load(std::memory_order_relaxed);
  gap_.store(g - g / 4 + sample / 4, std::memory_order_relaxed);
}

uint64_t monotonic_ns() noexcept {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

}  // namespace brine::ipc
