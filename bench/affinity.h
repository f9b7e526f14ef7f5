// CPU placement for the benchmarks: which CPUs this process may use, and pinning the calling
// thread to one of them for a scope.
#ifndef BRINE_BENCH_AFFINITY_H_
#define BRINE_BENCH_AFFINITY_H_

#include <sched.h>

#include <cerrno>
#include <system_error>
#include <vector>

namespace brine::bench {

[[noreturn]] inline void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

inline std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) throw_errno("sched_getaffinity");
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

inline void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) throw_errno("sched_setaffinity");
}

// Pins the calling thread for its lifetime, then restores its CPU mask.
class ScopedPin {
 public:
  explicit ScopedPin(int cpu) {
    CPU_ZERO(&saved_);
    if (sched_getaffinity(0, sizeof saved_, &saved_) != 0) throw_errno("sched_getaffinity");
    pin_to(cpu);
  }
  ~ScopedPin() { sched_setaffinity(0, sizeof saved_, &saved_); }
  ScopedPin(const ScopedPin&) = delete;
  ScopedPin& operator=(const ScopedPin&) = delete;

 private:
  cpu_set_t saved_;
};

}  // namespace brine::bench

#endif  // BRINE_BENCH_AFFINITY_H_
