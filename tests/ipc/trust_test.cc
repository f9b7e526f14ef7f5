// Issue 17, "trust, part two", across real processes:
//  - a bounded shutdown and a bounded destructor, with a task that never ends;
//  - Ctrl-C (a real ^C typed into a pseudo-terminal) in a program blocked in get() or map();
//  - a task that casts away const and writes 4 MiB past an argument, a result block or its
//    ring kills only its own worker: every other block, task and the parent are intact;
//  - loky's leak guard (PoolOptions::max_worker_rss);
//  - idle workers that die are counted.
// Each in the three start methods where the start method matters.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "brine/ipc/layout.h"
#include "brine/ipc/pool.h"
#include "pool_behaviour_support.h"
#include "test_support.h"

namespace trust {

using namespace std::chrono_literals;

int nap(int ms, int v) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return v;
}
BRINE_REGISTER_AS(nap, "trust::nap");

// Says it started (a file, whatever the start method), then sleeps.
int nap_announced(const std::string& started, int ms, int v) {
  brine::testing::announce(started);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return v;
}
BRINE_REGISTER_AS(nap_announced, "trust::nap_announced");

int32_t worker_pid() { return getpid(); }
BRINE_REGISTER_AS(worker_pid, "trust::worker_pid");

double checksum(std::span<const double> xs) { return std::accumulate(xs.begin(), xs.end(), 0.0); }
BRINE_REGISTER_AS(checksum, "trust::checksum");

constexpr std::size_t kOverrunBytes = std::size_t{4} << 20;

// Writes 4 MiB past the end of `p`, as a buggy task would.
void overrun(volatile std::byte* end) {
  for (std::size_t i = 0; i < kOverrunBytes; i += 64) end[i] = std::byte{0x5a};
}

// Casts away the const of its argument (a view into the shared arena) and runs off its end.
double overrun_argument(std::span<const double> xs) {
  overrun(reinterpret_cast<volatile std::byte*>(const_cast<double*>(xs.data() + xs.size())));
  return -1;
}
BRINE_REGISTER_AS(overrun_argument, "trust::overrun_argument");

// Runs off the end of its own result block.
brine::SharedVector<double> overrun_result(uint64_t n) {
  auto out = brine::this_worker::shared_vector<double>(n);
  for (uint64_t i = 0; i < n; ++i) out[i] = 1.0;
  overrun(reinterpret_cast<volatile std::byte*>(out.data() + n));
  return out;
}
BRINE_REGISTER_AS(overrun_result, "trust::overrun_result");

// Runs off the end of its own ring pair (found the test-only way: the memfd mapping in
// /proc/self/maps, and its WorkerControl by pid).
int overrun_ring() {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    unsigned long long start = 0, offset = 1;
    if (line.find("memfd:brine-") == std::string::npos ||
        std::sscanf(line.c_str(), "%llx-%*x %*s %llx", &start, &offset) != 2 || offset != 0) {
      continue;
    }
    auto* base = reinterpret_cast<std::byte*>(start);
    const auto* h = reinterpret_cast<const brine::ipc::SegmentHeader*>(base);
    if (h->magic != brine::ipc::kSegmentMagic) continue;
    const auto* controls = reinterpret_cast<const brine::ipc::WorkerControl*>(base + h->workers_offset);
    for (uint32_t w = 0; w < h->max_workers; ++w) {
      if (controls[w].pid.load() != getpid()) continue;
      std::byte* end = base + h->rings_offset + (w + 1) * h->ring_pair_size;
      overrun(reinterpret_cast<volatile std::byte*>(end - 64));
      return -1;
    }
  }
  std::abort();  // not inside a brine worker
}
BRINE_REGISTER_AS(overrun_ring, "trust::overrun_ring");

// Leaks `mib` MiB of touched private memory.
int32_t leak(int mib) {
  static std::vector<std::unique_ptr<char[]>> hoard;
  const std::size_t bytes = std::size_t(mib) << 20;
  hoard.push_back(std::make_unique<char[]>(bytes));
  std::memset(hoard.back().get(), 1, bytes);
  return getpid();
}
BRINE_REGISTER_AS(leak, "trust::leak");

}  // namespace trust

namespace {

using namespace trust;
using namespace std::chrono_literals;
using brine::StartMethod;
using brine::testing::catch_of;
using brine::testing::eventually;
using Clock = std::chrono::steady_clock;

std::string method_name(StartMethod m) {
  switch (m) {
    case StartMethod::kFork: return "Fork";
    case StartMethod::kForkServer: return "ForkServer";
    case StartMethod::kSpawn: return "Spawn";
  }
  return "?";
}

bool sanitized() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
  return true;
#else
  return false;
#endif
#else
  return false;
#endif
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

class TrustTest : public ::testing::TestWithParam<StartMethod> {};

// ---- bounded shutdown -------------------------------------------------------------------------

TEST_P(TrustTest, ShutdownWithATimeoutKillsAStuckTaskAndReturnsWithinItsBound) {
  const auto memfds_before = brine::testing::brine_memfds();
  std::vector<pid_t> pids;
  {
    brine::Pool pool({.workers = 2, .start_method = GetParam()});
    pids = pool.worker_pids();
    auto quick = pool.submit(nap, 0, 7);
    EXPECT_EQ(quick.get(), 7);
    brine::testing::ScratchDir dir;
    auto stuck = pool.submit(nap_announced, dir.file("started"), 600'000, 1);  // ten minutes
    auto behind = pool.submit(nap, 600'000, 2);
    ASSERT_NE(brine::testing::wait_announced(dir.file("started")), 0) << "the task never started";
    const auto t0 = Clock::now();
    const bool in_time = pool.shutdown(500ms);
    const double took = seconds_since(t0);
    EXPECT_FALSE(in_time) << "a ten-minute task cannot finish within 500 ms";
    EXPECT_LT(took, 0.5 + 10.0) << "shutdown(500 ms) took " << took << " s";
    ASSERT_TRUE(stuck.done() && behind.done()) << "shutdown returned with a future still pending";
    const auto c = catch_of([&] { stuck.get(); });
    EXPECT_EQ(c.type, "brine::PoolClosed");
    EXPECT_TRUE(c.has("shutdown timeout of 500 ms")) << c.message;
    EXPECT_TRUE(c.has("trust::nap_announced")) << c.message;
    EXPECT_EQ(catch_of([&] { behind.get(); }).type, "brine::PoolClosed");
    EXPECT_EQ(catch_of([&] { pool.submit(nap, 0, 0); }).type, "brine::PoolClosed");
  }
  for (pid_t p : pids) EXPECT_FALSE(brine::testing::process_exists(p)) << "worker " << p;
  EXPECT_TRUE(brine::testing::child_pids().empty());
  EXPECT_EQ(brine::testing::brine_memfds(), memfds_before);
}

TEST_P(TrustTest, ABoundedShutdownLetsFinishingTasksFinishAndReturnsTrue) {
  brine::Pool pool({.workers = 2, .start_method = GetParam()});
  std::vector<brine::Future<int>> fs;
  for (int i = 0; i < 50; ++i) fs.push_back(pool.submit(nap, i % 3, i));
  EXPECT_TRUE(pool.shutdown(60s));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(fs[i].get(), i);
}

TEST_P(TrustTest, TheDestructorIsBoundedByShutdownTimeoutThenKillsAndReaps) {
  const auto memfds_before = brine::testing::brine_memfds();
  brine::Future<int> stuck;
  std::vector<pid_t> pids;
  brine::testing::ScratchDir dir;
  Clock::time_point t0;
  {
    brine::Pool pool({.workers = 1, .start_method = GetParam(), .shutdown_timeout = 300ms});
    pids = pool.worker_pids();
    stuck = pool.submit(nap_announced, dir.file("started"), 600'000, 1);
    ASSERT_NE(brine::testing::wait_announced(dir.file("started")), 0) << "the task never started";
    t0 = Clock::now();
  }
  const double took = seconds_since(t0);
  EXPECT_LT(took, 0.3 + 10.0) << "the destructor took " << took << " s";
  ASSERT_TRUE(stuck.done());
  const auto c = catch_of([&] { stuck.get(); });
  EXPECT_EQ(c.type, "brine::PoolClosed");
  EXPECT_TRUE(c.has("shutdown timeout of 300 ms")) << c.message;
  for (pid_t p : pids) EXPECT_FALSE(brine::testing::process_exists(p)) << "worker " << p;
  EXPECT_TRUE(brine::testing::child_pids().empty());
  EXPECT_EQ(brine::testing::brine_memfds(), memfds_before);
}

TEST(TrustDefaultsTest, TheDestructorsBoundIsDocumentedAndForkServerIsTheDefault) {
  const brine::PoolOptions defaults;
  EXPECT_EQ(defaults.shutdown_timeout, brine::kDefaultShutdownTimeout);
  EXPECT_EQ(defaults.start_method, StartMethod::kForkServer);
  // Observed, not only declared: a default pool's workers are not this process's children.
  brine::Pool pool({.workers = 1});
  const pid_t worker = pool.worker_pids().at(0);
  EXPECT_NE(brine::testing::parent_of(worker), getpid());
}

// ---- Ctrl-C -----------------------------------------------------------------------------------

// Runs sigint_child under a pseudo-terminal (its controlling terminal, its process group in the
// foreground), waits for it to block in `mode` with two busy workers, types ^C, and checks:
// the program dies of SIGINT, no process of its group is left, nothing holds the memfd, and the
// terminal is released (every process that had it open is gone: the master reads EOF/EIO).
void ctrl_c_at_the_terminal(StartMethod method, const char* mode) {
  const char* how = method == StartMethod::kFork ? "fork" : method == StartMethod::kSpawn ? "spawn" : "forkserver";
  int master = -1;
  const pid_t child = forkpty(&master, nullptr, nullptr, nullptr);
  if (child < 0) {
    // A chroot or container without devpts has no pseudo-terminals to type ^C into.
    GTEST_SKIP() << "no pseudo-terminal available (forkpty: " << std::strerror(errno) << ")";
  }
  if (child == 0) {
    execl(BRINE_SIGINT_CHILD, BRINE_SIGINT_CHILD, how, mode, static_cast<char*>(nullptr));
    _exit(127);
  }
  // Read what it prints until "ready <pid> <pid>".
  std::string out;
  int pids[2] = {0, 0};
  const auto deadline = Clock::now() + 60s;
  while (Clock::now() < deadline) {
    char buf[256];
    pollfd p{master, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    const auto at = out.find("ready ");
    if (at != std::string::npos && out.find('\n', at) != std::string::npos) {
      std::sscanf(out.c_str() + at, "ready %d %d", &pids[0], &pids[1]);
      break;
    }
  }
  ASSERT_GT(pids[0], 0) << "the program never got ready; it printed: " << out;
  ASSERT_GT(pids[1], 0) << out;
  std::this_thread::sleep_for(300ms);  // into get() / map()
  const auto t0 = Clock::now();
  ASSERT_EQ(write(master, "\x03", 1), 1);  // ^C, as typed
  int status = 0;
  const bool exited = eventually([&] { return waitpid(child, &status, WNOHANG) == child; }, 10'000ms);
  if (!exited) {
    kill(-child, SIGKILL);
    waitpid(child, &status, 0);
  }
  ASSERT_TRUE(exited) << "the program ignored Ctrl-C";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << "status " << status;
  EXPECT_TRUE(eventually([&] { return brine::testing::processes_in_group(child).empty(); }, 10'000ms))
      << "processes of the pool outlived Ctrl-C";
  for (int p : pids) EXPECT_FALSE(brine::testing::process_exists(p)) << "worker " << p << " orphaned";
  // The terminal is free once nobody holds it: then reading its master fails (EIO) or ends.
  const bool released = eventually(
      [&] {
        char buf[256];
        const ssize_t n = read(master, buf, sizeof buf);
        return n == 0 || (n < 0 && errno == EIO);
      },
      10'000ms);
  EXPECT_TRUE(released) << "something still holds the terminal";
  std::printf("[ctrl-c %s %s] program and pool gone %.0f ms after ^C\n", how, mode, seconds_since(t0) * 1000);
  close(master);
}

TEST_P(TrustTest, CtrlCAtTheTerminalWhileBlockedInGetEndsTheProgramAndItsPool) {
  ctrl_c_at_the_terminal(GetParam(), "get");
}

TEST_P(TrustTest, CtrlCAtTheTerminalWhileBlockedInMapEndsTheProgramAndItsPool) {
  ctrl_c_at_the_terminal(GetParam(), "map");
}

// ---- a buggy task overruns shared memory ------------------------------------------------------

// Runs `victim` (a task that writes 4 MiB past something) among bystanders, and checks that
// only its worker died, of SIGSEGV, and that every other block, task and the pool are intact.
template <class Victim>
void only_the_worker_dies(StartMethod method, Victim&& victim) {
  const std::size_t n = 1 << 17;  // 1 MiB of doubles
  brine::Pool pool({.workers = 2, .start_method = method, .arena_bytes = std::size_t{256} << 20});
  const auto at_start = pool.stats();
  auto before = pool.shared_vector<double>(n);
  std::iota(before.begin(), before.end(), 0.0);
  auto arg = pool.shared_vector<double>(n);
  std::fill(arg.begin(), arg.end(), 1.0);
  auto after = pool.shared_vector<double>(n);  // likely right behind `arg` in the arena
  std::iota(after.begin(), after.end(), 0.0);
  const double expected = double(n) * double(n - 1) / 2;
  std::vector<brine::Future<double>> bystanders;
  for (int i = 0; i < 4; ++i) bystanders.push_back(pool.submit(checksum, before));

  const brine::testing::Caught c = victim(pool, arg);
  EXPECT_EQ(c.type, "brine::WorkerCrashed") << c.message;
  if (!sanitized()) {
    EXPECT_TRUE(c.has("signal 11")) << c.message;
  }

  for (int i = 0; i < 4; ++i) bystanders.push_back(pool.submit(checksum, after));
  for (auto& f : bystanders) {
    ASSERT_TRUE(f.wait_for(60s)) << "a bystander hung";
    EXPECT_EQ(f.get(), expected) << "a bystander's data was corrupted";
  }
  EXPECT_EQ(std::accumulate(before.begin(), before.end(), 0.0), expected);
  EXPECT_EQ(std::accumulate(after.begin(), after.end(), 0.0), expected);
  EXPECT_EQ(std::accumulate(arg.begin(), arg.end(), 0.0), double(n)) << "the argument itself was written";
  // The allocator and the pool go on: allocate, send, free, many times.
  for (int round = 0; round < 20; ++round) {
    auto v = pool.shared_vector<double>(1000 + round * 4096);
    std::fill(v.begin(), v.end(), 2.0);
    EXPECT_EQ(pool.submit(checksum, v).get(), 2.0 * double(v.size()));
  }
  bystanders.clear();
  before = {};
  arg = {};
  after = {};
  EXPECT_EQ(pool.stats().arena_blocks, at_start.arena_blocks);
  EXPECT_EQ(pool.stats().arena_used, at_start.arena_used);
  EXPECT_EQ(pool.stats().workers_crashed, 1u);
}

TEST_P(TrustTest, AnOverrunOfAnArgumentKillsOnlyItsWorker) {
  only_the_worker_dies(GetParam(), [](brine::Pool& pool, const brine::SharedVector<double>& arg) {
    auto f = pool.submit(overrun_argument, arg);
    EXPECT_TRUE(f.wait_for(60s));
    return catch_of([&] { f.get(); });
  });
}

TEST_P(TrustTest, AnOverrunOfItsResultBlockKillsOnlyItsWorker) {
  only_the_worker_dies(GetParam(), [](brine::Pool& pool, const brine::SharedVector<double>&) {
    auto f = pool.submit(overrun_result, uint64_t{1000});
    EXPECT_TRUE(f.wait_for(60s));
    return catch_of([&] { f.get(); });
  });
}

TEST_P(TrustTest, AnOverrunOfItsRingKillsOnlyItsWorker) {
  only_the_worker_dies(GetParam(), [](brine::Pool& pool, const brine::SharedVector<double>&) {
    auto f = pool.submit(overrun_ring);
    EXPECT_TRUE(f.wait_for(60s));
    return catch_of([&] { f.get(); });
  });
}

// ---- loky's leak guard --------------------------------------------------------------------------

TEST_P(TrustTest, AWorkerThatGrowsPastMaxWorkerRssIsReplacedBetweenTasksAndNothingIsLost) {
  brine::Pool pool({.workers = 1, .start_method = GetParam(), .max_worker_rss = std::size_t{32} << 20});
  const int32_t first = pool.submit(worker_pid).get();
  auto small = pool.submit(leak, 4);  // under the limit: the worker stays
  EXPECT_EQ(small.get(), first);
  auto big = pool.submit(leak, 64);  // past it: replaced after this task
  std::vector<brine::Future<int32_t>> behind;
  for (int i = 0; i < 20; ++i) behind.push_back(pool.submit(worker_pid));
  EXPECT_EQ(big.get(), first) << "the task that grew the worker still delivers its result";
  for (auto& f : behind) EXPECT_NE(f.get(), first) << "queued tasks run on the replacement";
  EXPECT_FALSE(brine::testing::process_exists(first));
  const auto s = pool.stats();
  EXPECT_EQ(s.workers_recycled_for_memory, 1u);
  EXPECT_EQ(s.workers_crashed, 0u);
  EXPECT_EQ(s.idle_workers_crashed, 0u);
}

// ---- idle deaths are counted ------------------------------------------------------------------

TEST_P(TrustTest, AnIdleWorkerKilledFromOutsideIsCountedAndReplaced) {
  brine::Pool pool({.workers = 2, .start_method = GetParam()});
  EXPECT_EQ(pool.submit(nap, 0, 1).get(), 1);
  const auto pids = pool.worker_pids();
  ASSERT_EQ(pids.size(), 2u);
  ASSERT_EQ(kill(pids[0], SIGKILL), 0);
  EXPECT_TRUE(eventually([&] { return pool.stats().idle_workers_crashed == 1; }))
      << "an idle worker's death was not counted";
  EXPECT_EQ(pool.stats().workers_crashed, 0u) << "no task was running";
  std::vector<brine::Future<int>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back(pool.submit(nap, 1, i));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(fs[i].get(), i);
  EXPECT_TRUE(eventually([&] { return pool.worker_pids().size() == 2; }));
}

INSTANTIATE_TEST_SUITE_P(StartMethods, TrustTest,
                         ::testing::Values(StartMethod::kFork, StartMethod::kForkServer, StartMethod::kSpawn),
                         [](const ::testing::TestParamInfo<StartMethod>& p) { return method_name(p.param); });

}  // namespace
