// Crash storm soak: a pool serves mixed tasks while a killer SIGKILLs a random worker every
// ~20 ms. Proves that under continuous crashes every future resolves (a value, the task's own
// RemoteError, or WorkerCrashed; never hung, never a wrong value), that the arena returns to
// its starting level, that the pool restores its workers, and that nothing leaks.
//
// BRINE_SOAK_SECONDS sets the duration (default 60). ctest label `soak`.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <numeric>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

#include "brine/ipc/pool.h"
#include "test_support.h"

namespace soak_test {

double add(double a, double b) { return a + b; }
BRINE_REGISTER(add);

double total(std::span<const double> xs) { return std::accumulate(xs.begin(), xs.end(), 0.0); }
BRINE_REGISTER(total);

std::vector<double> scaled(std::span<const double> xs, double k) {
  std::vector<double> out(xs.begin(), xs.end());
  for (double& x : out) x *= k;
  return out;
}
BRINE_REGISTER(scaled);

double fails(double x) { throw std::runtime_error("soak failure " + std::to_string(x)); }
BRINE_REGISTER(fails);

double nap(int us) {
  std::this_thread::sleep_for(std::chrono::microseconds(us));
  return us;
}
BRINE_REGISTER(nap);

}  // namespace soak_test

namespace {

using namespace soak_test;
using Clock = std::chrono::steady_clock;

enum class Outcome { kValue, kRemote, kCrashed, kWrong, kHung };

// Waits for `f` (bounded) and classifies it; `check` says whether a value is right.
template <class R, class Check>
Outcome settle(brine::Future<R>& f, Check check) {
  if (!f.wait_for(std::chrono::seconds(60))) return Outcome::kHung;
  try {
    return check(f.value()) ? Outcome::kValue : Outcome::kWrong;
  } catch (const brine::RemoteError& e) {
    return e.type_name() == "std::runtime_error" ? Outcome::kRemote : Outcome::kWrong;
  } catch (const brine::WorkerCrashed&) {
    return Outcome::kCrashed;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected error: %s\n", e.what());
    return Outcome::kWrong;
  }
}

// The parent pid of `pid`, from /proc; 0 if it is gone.
int parent_of(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  int ppid = 0;
  const auto close_paren = line.rfind(')');
  if (close_paren != std::string::npos) std::sscanf(line.c_str() + close_paren + 2, "%*c %d", &ppid);
  return ppid;
}

// SIGKILLs `pid` only if it is still one of this process's workers: its child (fork, spawn) or
// its grandchild through the fork server (the default start method). Pinned by a pidfd first,
// so a recycled pid of some other process is never signalled.
bool kill_child(pid_t pid) {
  const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return false;
  const int ppid = parent_of(pid);
  const bool ours = ppid == getpid() || (ppid > 0 && parent_of(ppid) == getpid());
  const bool ok = ours && syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0) == 0;
  close(fd);
  return ok;
}

TEST(SoakTest, EveryFutureResolvesAndNothingLeaksUnderACrashStorm) {
  const char* env = std::getenv("BRINE_SOAK_SECONDS");
  const double seconds = env != nullptr ? std::atof(env) : 60.0;
  const auto shm_before = brine::testing::brine_shm_entries();
  constexpr unsigned kWorkers = 3;
  std::size_t counts[5] = {};
  uint64_t kills = 0;
  std::set<pid_t> pids_seen;
  const auto start = Clock::now();
  {
    brine::Pool pool({.workers = kWorkers, .arena_bytes = std::size_t{256} << 20, .slot_count = 256});
    for (pid_t p : pool.worker_pids()) pids_seen.insert(p);
    std::vector<double> big(1 << 15, 0.25);  // 256 KiB: referenced in the arena by size
    std::vector<double> small(64, 1.0);      // forced into the arena with brine::ref
    brine::SharedVector<double> shared = pool.shared_vector<double>(1 << 14);
    std::fill(shared.begin(), shared.end(), 2.0);
    const brine::PoolStats at_start = pool.stats();

    std::atomic<bool> stop{false};
    std::thread killer([&] {
      std::mt19937 rng(42);
      while (!stop.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        const std::vector<pid_t> pids = pool.worker_pids();
        if (pids.empty()) continue;
        for (pid_t p : pids) pids_seen.insert(p);
        kills += kill_child(pids[rng() % pids.size()]);
      }
    });

    std::deque<std::function<Outcome()>> window;
    auto retire = [&] {
      ++counts[static_cast<int>(window.front()())];
      window.pop_front();
    };
    std::mt19937 rng(7);
    const auto deadline = start + std::chrono::duration<double>(seconds);
    for (uint64_t i = 0; Clock::now() < deadline; ++i) {
      const double x = static_cast<double>(i % 1000);
      switch (rng() % 6) {
        case 0: {
          auto f = pool.submit(add, x, 1.0);
          window.push_back([f, x]() mutable { return settle(f, [&](double v) { return v == x + 1.0; }); });
          break;
        }
        case 1: {
          auto f = pool.submit(total, big);
          window.push_back([f]() mutable { return settle(f, [](double v) { return v == 8192.0; }); });
          break;
        }
        case 2: {
          auto f = i % 2 ? pool.submit(total, brine::ref(small)) : pool.submit(total, shared);
          const double want = i % 2 ? 64.0 : 32768.0;
          window.push_back([f, want]() mutable { return settle(f, [&](double v) { return v == want; }); });
          break;
        }
        case 3: {
          auto f = pool.submit(scaled, big, 4.0);  // a 256 KiB result through a granted block
          window.push_back([f]() mutable {
            return settle(f, [](const std::vector<double>& v) { return v.size() == (1u << 15) && v.back() == 1.0; });
          });
          break;
        }
        case 4: {
          auto f = pool.submit(fails, x);
          window.push_back([f]() mutable { return settle(f, [](double) { return false; }); });
          break;
        }
        default: {
          auto f = pool.submit(nap, static_cast<int>(rng() % 2000));
          window.push_back([f]() mutable { return settle(f, [](double v) { return v >= 0; }); });
        }
      }
      if (window.size() >= 64) retire();
    }
    while (!window.empty()) retire();
    stop = true;
    killer.join();

    const auto restored_by = Clock::now() + std::chrono::seconds(5);
    while (pool.worker_pids().size() < kWorkers && Clock::now() < restored_by) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_EQ(pool.worker_pids().size(), kWorkers) << "the pool did not restore its workers";
    for (pid_t p : pool.worker_pids()) pids_seen.insert(p);
    EXPECT_EQ(pool.submit(add, 1.0, 2.0).get(), 3.0) << "the pool serves after the storm";
    const brine::PoolStats at_end = pool.stats();
    EXPECT_EQ(at_end.arena_used, at_start.arena_used) << "arena bytes leaked";
    EXPECT_EQ(at_end.arena_blocks, at_start.arena_blocks) << "arena blocks leaked";
    std::printf("soak: %.1f s, %zu tasks: %zu values, %zu remote errors, %zu WorkerCrashed; %llu kills, "
                "%zu recoveries (new worker pids), workers_crashed counter %llu, idle_workers_crashed %llu\n",
                std::chrono::duration<double>(Clock::now() - start).count(),
                counts[0] + counts[1] + counts[2] + counts[3] + counts[4], counts[0], counts[1], counts[2],
                static_cast<unsigned long long>(kills), pids_seen.size() - kWorkers,
                static_cast<unsigned long long>(at_end.workers_crashed),
                static_cast<unsigned long long>(at_end.idle_workers_crashed));
  }
  EXPECT_EQ(counts[static_cast<int>(Outcome::kHung)], 0u) << "futures never resolved";
  EXPECT_EQ(counts[static_cast<int>(Outcome::kWrong)], 0u) << "wrong values or unexpected errors";
  EXPECT_GT(kills, 0u);
  EXPECT_TRUE(brine::testing::brine_memfds().empty()) << "a segment fd leaked";
  EXPECT_TRUE(brine::testing::child_pids().empty()) << "a worker process leaked";
  EXPECT_EQ(brine::testing::brine_shm_entries(), shm_before);
}

}  // namespace
