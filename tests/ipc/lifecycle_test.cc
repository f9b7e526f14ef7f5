// The pool's lifecycle and options, with real worker processes: task timeouts,
// max_tasks_per_child, initializers and reusable_pool, shutdown (wait, cancel_futures),
// Future::cancel, done callbacks (one that submits), resize while tasks run, back-pressure,
// idle workers, many submitting threads, Ctrl-C, and two measured figures (disabled tests).
//
// No test asserts a duration: waits are bounded (wait_for) only so a bug shows as a failure,
// not a hang.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "brine/ipc/pool.h"
#include "pool_behaviour_support.h"
#include "test_support.h"

namespace lifecycle {

using namespace std::chrono_literals;

int add(int a, int b) { return a + b; }
BRINE_REGISTER_AS(add, "lifecycle::add");

int32_t worker_pid() { return getpid(); }
BRINE_REGISTER_AS(worker_pid, "lifecycle::worker_pid");

int nap(int ms, int v) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return v;
}
BRINE_REGISTER_AS(nap, "lifecycle::nap");

// Says it started (its pid in `path`), then waits for `gate` to exist.
int gated(const std::string& path, const std::string& gate, int v) {
  if (!path.empty()) brine::testing::announce(path);
  brine::testing::wait_gate(gate);
  return v;
}
BRINE_REGISTER_AS(gated, "lifecycle::gated");

int64_t identity(int64_t x) { return x; }
BRINE_REGISTER_AS(identity, "lifecycle::identity");

// Initializers. The failing one fails while LIFECYCLE_INIT_FAIL is set in the environment the
// worker inherits.
int g_init_runs = 0;
int g_init_value = 0;
void good_init() {
  ++g_init_runs;
  g_init_value = 1234;
}
BRINE_REGISTER_AS(good_init, "lifecycle::good_init");

void flaky_init() {
  if (std::getenv("LIFECYCLE_INIT_FAIL") != nullptr) throw std::runtime_error("no licence server reachable");
  ++g_init_runs;
}
BRINE_REGISTER_AS(flaky_init, "lifecycle::flaky_init");

// (runs of the initializer in this worker, the value it set)
std::pair<int, int> init_seen() { return {g_init_runs, g_init_value}; }
BRINE_REGISTER_AS(init_seen, "lifecycle::init_seen");

}  // namespace lifecycle

namespace {

using namespace lifecycle;
using namespace std::chrono_literals;
using brine::testing::Caught;
using brine::testing::catch_of;
using brine::testing::eventually;

// ---- task timeout ---------------------------------------------------------------------------

TEST(LifecycleTest, SubmitWithTimeoutKillsAndReplacesTheStuckWorkerAndFailsThatTaskOnly) {
  brine::Pool pool({.workers = 1});
  const pid_t before = pool.submit(worker_pid).get();
  auto stuck = pool.submit_with({.timeout = 200ms}, nap, 600'000, 1);
  std::vector<brine::Future<int>> behind;
  for (int i = 0; i < 10; ++i) behind.push_back(pool.submit(add, i, 1));
  ASSERT_TRUE(stuck.wait_for(60s)) << "the timeout never fired";
  const Caught c = catch_of([&] { stuck.get(); });
  std::printf("[timeout] %s: %s\n", c.type.c_str(), c.message.c_str());
  EXPECT_EQ(c.type, "brine::TimeoutError") << c.message;
  EXPECT_TRUE(c.has("lifecycle::nap")) << c.message;
  EXPECT_TRUE(c.has("200 ms")) << c.message;
  EXPECT_TRUE(c.has("pid " + std::to_string(before))) << c.message;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(behind[i].wait_for(60s));
    EXPECT_EQ(behind[i].get(), i + 1);
  }
  const pid_t after = pool.submit(worker_pid).get();
  EXPECT_NE(after, before);
  EXPECT_FALSE(brine::testing::process_exists(before));
  // A timeout is not a crash.
  EXPECT_EQ(pool.stats().workers_crashed, 0u);
}

TEST(LifecycleTest, PoolTaskTimeoutAppliesToEveryTaskAndSubmitWithOverridesIt) {
  brine::Pool pool({.workers = 2, .task_timeout = 300ms});
  auto stuck = pool.submit(nap, 600'000, 1);
  auto quick = pool.submit(add, 2, 3);
  auto longer = pool.submit_with({.timeout = 60s}, nap, 500, 7);  // outlives the pool default
  ASSERT_TRUE(stuck.wait_for(60s));
  EXPECT_EQ(catch_of([&] { stuck.get(); }).type, "brine::TimeoutError");
  EXPECT_EQ(quick.get(), 5);
  ASSERT_TRUE(longer.wait_for(60s));
  EXPECT_EQ(longer.get(), 7) << "a per-call timeout replaces the pool's";
  EXPECT_EQ(pool.submit(add, 1, 1).get(), 2);
}

// ---- max_tasks_per_child --------------------------------------------------------------------

TEST(LifecycleTest, MaxTasksPerChildReplacesWorkersUnderABacklogWithoutDeadlock) {
  brine::Pool pool({.workers = 2, .max_tasks_per_child = 5});
  constexpr int kTasks = 500;
  std::vector<brine::Future<int32_t>> fs;
  for (int i = 0; i < kTasks; ++i) fs.push_back(pool.submit(worker_pid));
  std::map<int32_t, int> per_pid;
  for (auto& f : fs) {
    ASSERT_TRUE(f.wait_for(120s)) << "deadlock: a task never completed";
    ++per_pid[f.get()];
  }
  for (const auto& [pid, n] : per_pid) EXPECT_LE(n, 5) << "worker " << pid << " ran past max_tasks_per_child";
  EXPECT_GE(per_pid.size(), std::size_t{kTasks / 5});
  std::printf("[max_tasks_per_child] %d tasks ran in %zu worker processes\n", kTasks, per_pid.size());
  EXPECT_EQ(pool.stats().workers_crashed, 0u) << "retiring is not crashing";
  // A map over the same pool (chunks count as one task each) also goes through.
  const std::vector<int64_t> xs(1'000, 3);
  EXPECT_EQ(pool.map(identity, xs, {.chunksize = 7}), xs);
}

// ---- initializer and reusable_pool ----------------------------------------------------------

TEST(LifecycleTest, AnInitializerRunsOncePerWorkerBeforeItsTasks) {
  brine::Pool pool({.workers = 2, .initializer = good_init});
  std::set<int32_t> pids;
  for (int i = 0; i < 200; ++i) {
    auto seen = pool.submit(init_seen).get();
    EXPECT_EQ(seen.first, 1) << "the initializer must run exactly once per worker";
    EXPECT_EQ(seen.second, 1234);
  }
  EXPECT_EQ(g_init_runs, 0) << "the initializer never runs in the parent";
}

TEST(LifecycleTest, AThrowingInitializerBreaksThePoolClearlyAndReusablePoolThenGivesAWorkingOne) {
  setenv("LIFECYCLE_INIT_FAIL", "1", 1);
  const brine::PoolOptions options{.workers = 2, .initializer = flaky_init};
  auto broken = brine::reusable_pool(options);
  ASSERT_TRUE(eventually([&] { return broken->broken(); })) << "a failing initializer must break the pool";
  const Caught c = catch_of([&] { broken->submit(add, 1, 2); });
  std::printf("[initializer] %s: %s\n", c.type.c_str(), c.message.c_str());
  EXPECT_EQ(c.type, "brine::BrokenPool") << c.message;
  EXPECT_TRUE(c.has("no licence server reachable")) << c.message;
  EXPECT_TRUE(c.has("lifecycle::flaky_init")) << c.message;
  EXPECT_TRUE(c.has("std::runtime_error")) << c.message;
  EXPECT_TRUE(c.has("reusable_pool")) << c.message;

  unsetenv("LIFECYCLE_INIT_FAIL");
  auto fresh = brine::reusable_pool(options);
  EXPECT_NE(fresh.get(), broken.get()) << "a broken pool is replaced";
  EXPECT_EQ(fresh->submit(add, 1, 2).get(), 3);
  EXPECT_EQ(brine::reusable_pool(options).get(), fresh.get()) << "a working pool with the same options is reused";
  auto other = brine::reusable_pool({.workers = 1});
  EXPECT_NE(other.get(), fresh.get()) << "other options give another pool";
  EXPECT_TRUE(fresh->closed()) << "the previous pool is shut down";
  EXPECT_EQ(other->submit(add, 2, 2).get(), 4);
  other->shutdown();
}

TEST(LifecycleTest, TasksSubmittedBeforeTheInitializerFailsFailWithBrokenPool) {
  setenv("LIFECYCLE_INIT_FAIL", "1", 1);
  brine::Pool pool({.workers = 2, .initializer = flaky_init});
  std::vector<brine::Future<int>> fs;
  std::vector<Caught> refused;
  for (int i = 0; i < 50; ++i) {
    const Caught c = catch_of([&] { fs.push_back(pool.submit(add, i, i)); });
    if (c.threw) refused.push_back(c);
  }
  unsetenv("LIFECYCLE_INIT_FAIL");
  for (auto& f : fs) {
    ASSERT_TRUE(f.wait_for(60s)) << "a task queued to a broken pool hung";
    EXPECT_EQ(catch_of([&] { f.get(); }).type, "brine::BrokenPool");
  }
  for (const auto& c : refused) EXPECT_EQ(c.type, "brine::BrokenPool") << c.message;
}

// ---- shutdown -------------------------------------------------------------------------------

TEST(LifecycleTest, ShutdownWithWaitFinishesEveryQueuedTaskThenSubmitIsPoolClosed) {
  brine::Pool pool({.workers = 2});
  std::vector<brine::Future<int>> fs;
  for (int i = 0; i < 400; ++i) fs.push_back(pool.submit(nap, i % 3, i));
  const auto pids = pool.worker_pids();
  pool.shutdown(/*wait=*/true);
  for (int i = 0; i < 400; ++i) {
    ASSERT_TRUE(fs[i].done()) << "shutdown(wait) returned before task " << i << " finished";
    EXPECT_EQ(fs[i].get(), i);
  }
  for (pid_t p : pids) EXPECT_FALSE(brine::testing::process_exists(p)) << "worker " << p << " outlived shutdown";
  const Caught c = catch_of([&] { pool.submit(add, 1, 2); });
  EXPECT_EQ(c.type, "brine::PoolClosed") << c.message;
  EXPECT_TRUE(c.has("shut down")) << c.message;
  EXPECT_TRUE(pool.closed());
  EXPECT_EQ(catch_of([&] { pool.resize(2); }).type, "brine::PoolClosed");
  pool.shutdown();  // twice is harmless
}

TEST(LifecycleTest, ShutdownWithCancelFuturesCancelsThePendingAndFinishesTheRunning) {
  brine::testing::ScratchDir dir;
  const std::string started = dir.file("started"), gate = dir.file("gate");
  brine::Pool pool({.workers = 1});
  auto running = pool.submit(gated, started, gate, 7);
  std::vector<brine::Future<int>> pending;
  for (int i = 0; i < 50; ++i) pending.push_back(pool.submit(add, i, 1));
  ASSERT_NE(brine::testing::wait_announced(started), 0);
  std::atomic<int> callbacks{0};
  for (auto& f : pending) f.add_done_callback([&] { callbacks.fetch_add(1); });
  std::thread opener([&] {
    std::this_thread::sleep_for(100ms);
    brine::testing::open_gate(gate);
  });
  pool.shutdown(/*wait=*/true, /*cancel_futures=*/true);
  opener.join();
  EXPECT_EQ(running.get(), 7) << "the running task finishes";
  for (auto& f : pending) {
    ASSERT_TRUE(f.done());
    const Caught c = catch_of([&] { f.get(); });
    EXPECT_EQ(c.type, "brine::Cancelled") << c.message;
  }
  EXPECT_EQ(callbacks.load(), 50) << "a cancelled future runs its done callbacks";
}

TEST(LifecycleTest, ShutdownWithoutWaitFailsWhatIsPendingAndLeavesNoWorker) {
  brine::testing::ScratchDir dir;
  brine::Pool pool({.workers = 2});
  const auto pids = pool.worker_pids();
  std::vector<brine::Future<int>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back(pool.submit(gated, std::string(), dir.file("never"), i));
  pool.shutdown(/*wait=*/false);
  for (auto& f : fs) {
    ASSERT_TRUE(f.wait_for(60s));
    EXPECT_EQ(catch_of([&] { f.get(); }).type, "brine::PoolClosed");
  }
  for (pid_t p : pids) EXPECT_FALSE(brine::testing::process_exists(p));
}

// ---- Future::cancel and callbacks -----------------------------------------------------------

TEST(LifecycleTest, CancelStopsAQueuedTaskButNotARunningOrFinishedOne) {
  brine::testing::ScratchDir dir;
  const std::string started = dir.file("started"), gate = dir.file("gate");
  brine::Pool pool({.workers = 1});
  auto running = pool.submit(gated, started, gate, 1);
  auto queued = pool.submit(add, 2, 2);
  auto kept = pool.submit(add, 3, 3);
  ASSERT_NE(brine::testing::wait_announced(started), 0);
  EXPECT_FALSE(running.cancel()) << "a running task cannot be cancelled";
  EXPECT_TRUE(queued.cancel());
  EXPECT_TRUE(queued.done());
  EXPECT_FALSE(queued.cancel()) << "cancelling twice";
  brine::testing::open_gate(gate);
  EXPECT_EQ(running.get(), 1);
  EXPECT_EQ(kept.get(), 6);
  const Caught c = catch_of([&] { queued.get(); });
  EXPECT_EQ(c.type, "brine::Cancelled") << c.message;
  EXPECT_FALSE(kept.cancel()) << "a finished task cannot be cancelled";
  // The slot of the cancelled task came back: the pool still runs many tasks.
  std::vector<brine::Future<int>> fs;
  for (int i = 0; i < 3'000; ++i) fs.push_back(pool.submit(add, i, 0));
  for (int i = 0; i < 3'000; ++i) ASSERT_EQ(fs[i].get(), i);
  EXPECT_TRUE(eventually([&] { return pool.stats().submitted == pool.stats().completed; }));
}

TEST(LifecycleTest, DoneCallbacksRunOnceAndACallbackMaySubmit) {
  brine::Pool pool({.workers = 2});
  std::atomic<int> ran{0};
  auto f = pool.submit(add, 1, 1);
  f.add_done_callback([&] { ran.fetch_add(1); });
  f.wait();
  ASSERT_TRUE(eventually([&] { return ran.load() == 1; }));
  f.add_done_callback([&] { ran.fetch_add(10); });  // already done: runs at once, here
  EXPECT_EQ(ran.load(), 11);

  // A chain: each callback submits the next task, 200 deep.
  std::mutex mu;
  std::vector<brine::Future<int>> chain;
  std::atomic<int> links{0};
  std::function<void(int)> next = [&](int depth) {
    auto g = pool.submit(add, depth, 1);
    {
      std::lock_guard lock(mu);
      chain.push_back(g);
    }
    if (depth < 200) g.add_done_callback([&, depth] {
        links.fetch_add(1);
        next(depth + 1);
      });
  };
  next(0);
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return chain.size() == 201 && chain.back().done();
  }, 60'000ms)) << "the callback chain stopped at " << links.load();
  std::lock_guard lock(mu);
  for (int i = 0; i <= 200; ++i) EXPECT_EQ(chain[i].get(), i + 1);
}

TEST(LifecycleTest, CallbacksThatSubmitIntoAFullPoolDoNotDeadlock) {
  // Rings and slots so small that a callback's submit must wait for room, from the thread
  // that completes futures.
  brine::Pool pool({.workers = 2, .ring_capacity = 2, .slot_count = 4});
  std::mutex mu;
  std::vector<std::pair<int, brine::Future<int>>> second;
  std::vector<brine::Future<int>> first;
  for (int i = 0; i < 200; ++i) {
    auto f = pool.submit(add, i, 0);
    f.add_done_callback([&, i] {
      auto g = pool.submit(add, i, 1000);
      std::lock_guard lock(mu);
      second.emplace_back(i, g);
    });
    first.push_back(f);
  }
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(first[i].wait_for(60s));
    EXPECT_EQ(first[i].get(), i);
  }
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return second.size() == 200;
  }, 60'000ms));
  std::lock_guard lock(mu);
  for (auto& [i, g] : second) {
    ASSERT_TRUE(g.wait_for(60s));
    EXPECT_EQ(g.get(), i + 1000) << "a callback's task got another task's result";
  }
}

// ---- resize ---------------------------------------------------------------------------------

TEST(LifecycleTest, ResizeUpAndDownWhileTasksRunLosesNothing) {
  brine::Pool pool({.workers = 1, .max_workers = 6});
  std::vector<brine::Future<int>> fs;
  int next = 0;
  auto submit_some = [&](int n) {
    for (int i = 0; i < n; ++i, ++next) fs.push_back(pool.submit(nap, next % 2, next));
  };
  for (unsigned n : {4u, 2u, 6u, 1u, 3u}) {
    submit_some(300);
    pool.resize(n);
    EXPECT_EQ(pool.size(), n);
    submit_some(300);
    EXPECT_TRUE(eventually([&] { return pool.worker_pids().size() == n; }))
        << "worker_pids() has " << pool.worker_pids().size() << ", wanted " << n;
  }
  for (int i = 0; i < next; ++i) {
    ASSERT_TRUE(fs[i].wait_for(60s)) << "task " << i << " was lost by a resize";
    EXPECT_EQ(fs[i].get(), i);
  }
  EXPECT_EQ(pool.stats().workers_crashed, 0u);
  EXPECT_THROW(pool.resize(0), std::invalid_argument);
  EXPECT_THROW(pool.resize(7), std::invalid_argument);
}

// ---- back-pressure --------------------------------------------------------------------------

TEST(LifecycleTest, BackpressureFailThrowsRingFullNamingTheOptionAndThePoolGoesOn) {
  brine::testing::ScratchDir dir;
  const std::string started = dir.file("started"), gate = dir.file("gate");
  brine::Pool pool({.workers = 1, .backpressure = brine::Backpressure::kFail, .ring_capacity = 2, .slot_count = 4});
  std::vector<brine::Future<int>> accepted;
  accepted.push_back(pool.submit(gated, started, gate, 0));
  ASSERT_NE(brine::testing::wait_announced(started), 0);
  Caught refused;
  for (int i = 1; i < 100 && !refused.threw; ++i) {
    refused = catch_of([&] { accepted.push_back(pool.submit(add, i, 0)); });
  }
  std::printf("[backpressure] %s: %s\n", refused.type.c_str(), refused.message.c_str());
  ASSERT_TRUE(refused.threw) << "submit never refused with a blocked worker and a ring of 2";
  EXPECT_EQ(refused.type, "brine::RingFull") << refused.message;
  EXPECT_TRUE(refused.has("Backpressure::kFail")) << refused.message;
  EXPECT_TRUE(refused.has("ring_capacity")) << refused.message;
  brine::testing::open_gate(gate);
  for (std::size_t i = 0; i < accepted.size(); ++i) EXPECT_EQ(accepted[i].get(), int(i));
  EXPECT_EQ(pool.submit(add, 20, 22).get(), 42);
}

TEST(LifecycleTest, BackpressureFailOnSlotsNamesSlotCount) {
  brine::testing::ScratchDir dir;
  const std::string gate = dir.file("gate");
  brine::Pool pool({.workers = 2, .backpressure = brine::Backpressure::kFail, .ring_capacity = 64, .slot_count = 3});
  std::vector<brine::Future<int>> accepted;
  Caught refused;
  for (int i = 0; i < 100 && !refused.threw; ++i) {
    refused = catch_of([&] { accepted.push_back(pool.submit(gated, std::string(), gate, i)); });
  }
  ASSERT_TRUE(refused.threw);
  EXPECT_EQ(refused.type, "brine::RingFull") << refused.message;
  EXPECT_TRUE(refused.has("slot")) << refused.message;
  EXPECT_TRUE(refused.has("slot_count")) << refused.message;
  brine::testing::open_gate(gate);
  for (std::size_t i = 0; i < accepted.size(); ++i) EXPECT_EQ(accepted[i].get(), int(i));
  EXPECT_EQ(pool.submit(add, 1, 1).get(), 2);
}

TEST(LifecycleTest, BackpressureBlockWaitsForRoomAndLosesNothing) {
  brine::testing::ScratchDir dir;
  const std::string started = dir.file("started"), gate = dir.file("gate");
  brine::Pool pool({.workers = 1, .ring_capacity = 2, .slot_count = 4});
  auto first = pool.submit(gated, started, gate, -1);
  ASSERT_NE(brine::testing::wait_announced(started), 0);
  std::vector<brine::Future<int>> fs;
  std::thread submitter([&] {
    for (int i = 0; i < 500; ++i) fs.push_back(pool.submit(add, i, 0));
  });
  std::this_thread::sleep_for(50ms);  // let it block (not asserted)
  brine::testing::open_gate(gate);
  submitter.join();
  EXPECT_EQ(first.get(), -1);
  for (int i = 0; i < 500; ++i) EXPECT_EQ(fs[i].get(), i);
}

// ---- idle workers ---------------------------------------------------------------------------

TEST(LifecycleTest, IdleWorkersExitAndASubmitRestartsThem) {
  brine::Pool pool({.workers = 2, .idle_timeout = 200ms});
  EXPECT_EQ(pool.submit(add, 1, 2).get(), 3);
  const auto pids = pool.worker_pids();
  ASSERT_EQ(pids.size(), 2u);
  ASSERT_TRUE(eventually([&] {
    return pool.worker_pids().empty() &&
           std::none_of(pids.begin(), pids.end(), [](pid_t p) { return brine::testing::process_exists(p); });
  })) << "idle workers did not exit";
  EXPECT_EQ(pool.stats().workers_crashed, 0u);
  const int32_t fresh = pool.submit(worker_pid).get();
  EXPECT_EQ(std::count(pids.begin(), pids.end(), fresh), 0) << "a new worker serves";
  std::vector<brine::Future<int>> fs;
  for (int i = 0; i < 200; ++i) fs.push_back(pool.submit(add, i, 1));
  for (int i = 0; i < 200; ++i) EXPECT_EQ(fs[i].get(), i + 1);
}

// ---- threads --------------------------------------------------------------------------------

TEST(LifecycleTest, FourThreadsShareOnePoolTenThousandTasksEach) {
  brine::Pool pool({.workers = 2});
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<brine::Future<int>> fs;
      fs.reserve(10'000);
      for (int i = 0; i < 10'000; ++i) fs.push_back(pool.submit(add, t * 100'000, i));
      for (int i = 0; i < 10'000; ++i) {
        if (!fs[i].wait_for(120s) || fs[i].get() != t * 100'000 + i) wrong.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(pool.stats().completed, 40'000u);
}

// ---- Ctrl-C ---------------------------------------------------------------------------------

// Forks a child that runs a pool (start method `method`) with two busy workers, sends the
// child's process group SIGINT as a terminal's Ctrl-C would, and checks that the child exits,
// every process of its group (workers, fork server) is gone within a bound, and nothing holds
// the memfd.
void ctrl_c_leaves_nothing(brine::StartMethod method) {
  // (this process may hold a memfd of its own: reusable_pool keeps its last pool)
  const auto memfds_before = brine::testing::brine_memfds();
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    setpgid(0, 0);
    signal(SIGINT, SIG_DFL);  // as in a program run from a terminal (a shell's `&` ignores it)
    close(pipefd[0]);
    {
      brine::Pool pool({.workers = 2, .start_method = method});
      std::vector<brine::Future<int>> busy;
      for (int i = 0; i < 4; ++i) busy.push_back(pool.submit(nap, 600'000, i));
      int32_t pids[2] = {0, 0};
      const auto live = pool.worker_pids();
      for (std::size_t i = 0; i < live.size() && i < 2; ++i) pids[i] = live[i];
      [[maybe_unused]] ssize_t w = write(pipefd[1], pids, sizeof pids);
      busy[0].wait();  // Ctrl-C arrives here
    }
    _exit(0);
  }
  close(pipefd[1]);
  int32_t pids[2] = {0, 0};
  ASSERT_EQ(read(pipefd[0], pids, sizeof pids), ssize_t(sizeof pids));
  close(pipefd[0]);
  ASSERT_GT(pids[0], 0);
  ASSERT_GT(pids[1], 0);
  setpgid(child, child);  // (the child did it too; whichever runs first)
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(-child, SIGINT), 0);
  int status = 0;
  const bool exited = eventually([&] { return waitpid(child, &status, WNOHANG) == child; }, 10'000ms);
  if (!exited) {
    kill(-child, SIGKILL);
    waitpid(child, &status, 0);
  }
  ASSERT_TRUE(exited) << "the pool's process ignored Ctrl-C";
  const bool gone = eventually([&] { return brine::testing::processes_in_group(child).empty(); }, 10'000ms);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ctrl-c] child %s; its group empty %.1f ms after SIGINT\n",
              WIFSIGNALED(status) ? ("killed by signal " + std::to_string(WTERMSIG(status))).c_str()
                                  : ("exited " + std::to_string(WEXITSTATUS(status))).c_str(),
              ms);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << "the child should die of Ctrl-C";
  EXPECT_TRUE(gone) << "processes of the pool outlived Ctrl-C";
  for (int p : brine::testing::processes_in_group(child)) {
    const auto st = brine::testing::proc_stat(p);
    std::printf("[ctrl-c] left behind: pid %d state %s ppid %s\n", p, st.size() > 1 ? st[0].c_str() : "?",
                st.size() > 1 ? st[1].c_str() : "?");
  }
  for (int32_t p : pids) EXPECT_FALSE(brine::testing::process_exists(p)) << "worker " << p;
  for (int p : brine::testing::processes_in_group(child)) EXPECT_FALSE(brine::testing::holds_brine_memfd(p)) << p;
  EXPECT_EQ(brine::testing::brine_memfds(), memfds_before);
}

TEST(LifecycleTest, CtrlCInTheParentEndsItsWorkersAndLeavesNoMemfd) { ctrl_c_leaves_nothing(brine::StartMethod::kFork); }

TEST(LifecycleTest, CtrlCInTheParentEndsAForkServerPoolToo) { ctrl_c_leaves_nothing(brine::StartMethod::kForkServer); }

// ---- measured figures (run by hand; see the report) -----------------------------------------

TEST(PoolMeasureTest, DISABLED_MapOfAMillionTrivialTasksOverTwoWorkers) {
  brine::Pool pool({.workers = 2});
  std::vector<int64_t> xs(1'000'000);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = int64_t(i);
  pool.map(identity, std::vector<int64_t>(10'000, 1));  // warm up
  const auto t0 = std::chrono::steady_clock::now();
  const auto out = pool.map(identity, xs);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(out.size(), xs.size());
  EXPECT_EQ(out.back(), int64_t(xs.size() - 1));
  std::printf("[measure] map of %zu trivial tasks over 2 workers (default chunksize %zu): %.3f s, %.0f tasks/s\n",
              xs.size(), pool.default_chunksize(xs.size()), s, double(xs.size()) / s);
  // And with one call per task, for comparison.
  std::vector<int64_t> ys(100'000, 1);
  const auto t1 = std::chrono::steady_clock::now();
  pool.map(identity, ys, {.chunksize = 1});
  const double s1 = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  std::printf("[measure] map of %zu trivial tasks over 2 workers, chunksize 1: %.0f tasks/s\n", ys.size(),
              double(ys.size()) / s1);
}

TEST(PoolMeasureTest, DISABLED_TimeFromSigkillOfABusyWorkerToTheFailedFuture) {
  brine::testing::ScratchDir dir;
  brine::Pool pool({.workers = 1});
  std::vector<double> us;
  for (int i = 0; i < 21; ++i) {
    const std::string started = dir.file("started" + std::to_string(i));
    auto f = pool.submit(gated, started, dir.file("never"), i);
    const int pid = brine::testing::wait_announced(started);
    ASSERT_NE(pid, 0);
    const auto t0 = std::chrono::steady_clock::now();
    kill(pid, SIGKILL);
    f.wait();
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    EXPECT_EQ(catch_of([&] { f.get(); }).type, "brine::WorkerCrashed");
  }
  std::sort(us.begin(), us.end());
  std::printf("[measure] SIGKILL of a busy worker -> failed future: median %.0f us (min %.0f, max %.0f, n=%zu)\n",
              us[us.size() / 2], us.front(), us.back(), us.size());
}

}  // namespace
