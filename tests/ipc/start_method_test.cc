// The three start methods with real processes: each runs tasks, survives a SIGKILL of a
// worker (replaced, queued tasks still run) and leaves no process and no memfd behind.
//
// What each start method is, as observed here:
//  - kFork: workers are children of this process and see its memory as it was at the fork,
//    so a replacement sees the parent's state at the time of the crash.
//  - kForkServer: workers are children of the fork server (itself a child of this process,
//    forked when the pool started), so every worker, replacements included, sees this
//    process's memory as it was when the pool started.
//  - kSpawn: workers are fresh execs of /proc/self/exe (ipc_main.cc calls
//    brine::run_if_worker() first); they see none of this process's run-time state, only
//    what static initialization gives. A by-value lambda still runs, because the image is
//    the same build (its id is checked; see closure_test for the refusal).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "brine/ipc/pool.h"
#include "pool_behaviour_support.h"
#include "test_support.h"

namespace start_method {

using namespace std::chrono_literals;

// Run-time state of the parent: 0 after static initialization, set by the tests.
int g_marker = 0;

int marker() { return g_marker; }
BRINE_REGISTER_AS(marker, "start_method::marker");

int32_t worker_pid() { return getpid(); }
BRINE_REGISTER_AS(worker_pid, "start_method::worker_pid");

int32_t worker_parent() { return getppid(); }
BRINE_REGISTER_AS(worker_parent, "start_method::worker_parent");

int64_t cube(int64_t x) { return x * x * x; }
BRINE_REGISTER_AS(cube, "start_method::cube");

int sleep_announced(const std::string& path, int ms) {
  brine::testing::announce(path);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
BRINE_REGISTER_AS(sleep_announced, "start_method::sleep_announced");

}  // namespace start_method

namespace {

using namespace start_method;
using namespace std::chrono_literals;
using brine::StartMethod;
using brine::testing::catch_of;
using brine::testing::eventually;

std::string name_of(StartMethod m) {
  switch (m) {
    case StartMethod::kFork: return "Fork";
    case StartMethod::kForkServer: return "ForkServer";
    case StartMethod::kSpawn: return "Spawn";
  }
  return "?";
}

class StartMethodTest : public ::testing::TestWithParam<StartMethod> {
 protected:
  void SetUp() override { g_marker = 0; }
  void TearDown() override { g_marker = 0; }
};

TEST_P(StartMethodTest, RunsTasksSurvivesASigkillAndLeavesNothingBehind) {
  // (a whole-binary run may hold one memfd already: reusable_pool keeps its last pool)
  const auto memfds_before = brine::testing::brine_memfds();
  brine::testing::ScratchDir dir;
  const auto shm_before = brine::testing::brine_shm_entries();
  std::vector<pid_t> all_workers;
  {
    brine::Pool pool({.workers = 2, .start_method = GetParam()});
    std::vector<int64_t> xs(2'000);
    for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = int64_t(i);
    const auto ys = pool.map(cube, xs, {.chunksize = 16});
    for (std::size_t i = 0; i < xs.size(); ++i) ASSERT_EQ(ys[i], xs[i] * xs[i] * xs[i]);
    const auto before = pool.worker_pids();
    ASSERT_EQ(before.size(), 2u);
    all_workers.insert(all_workers.end(), before.begin(), before.end());

    // Kill a busy worker: its task fails with WorkerCrashed, the rest run on.
    auto victim = pool.submit(sleep_announced, dir.file("started"), 600'000);
    std::vector<brine::Future<int64_t>> behind;
    for (int64_t i = 0; i < 50; ++i) behind.push_back(pool.submit(cube, i));
    const int pid = brine::testing::wait_announced(dir.file("started"));
    ASSERT_NE(pid, 0);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    ASSERT_TRUE(victim.wait_for(60s));
    const auto c = catch_of([&] { victim.get(); });
    EXPECT_EQ(c.type, "brine::WorkerCrashed") << c.message;
    EXPECT_TRUE(c.has("pid " + std::to_string(pid))) << c.message;
    for (int64_t i = 0; i < 50; ++i) {
      ASSERT_TRUE(behind[i].wait_for(60s));
      EXPECT_EQ(behind[i].get(), i * i * i);
    }
    ASSERT_TRUE(eventually([&] { return pool.worker_pids().size() == 2; }));
    const auto after = pool.worker_pids();
    EXPECT_EQ(std::count(after.begin(), after.end(), pid), 0) << "the killed worker was replaced";
    all_workers.insert(all_workers.end(), after.begin(), after.end());
    EXPECT_EQ(brine::testing::brine_memfds().size(), memfds_before.size() + 1);
  }
  EXPECT_EQ(brine::testing::brine_memfds(), memfds_before) << "the segment's fd outlived the pool";
  EXPECT_EQ(brine::testing::brine_shm_entries(), shm_before);
  EXPECT_TRUE(brine::testing::child_pids().empty()) << "a worker or fork server outlived the pool";
  for (pid_t p : all_workers) EXPECT_FALSE(brine::testing::process_exists(p)) << p;
}

TEST_P(StartMethodTest, WorkersParentIsThisProcessOrTheForkServer) {
  brine::Pool pool({.workers = 2, .start_method = GetParam()});
  std::set<int32_t> parents;
  for (int i = 0; i < 50; ++i) parents.insert(pool.submit(worker_parent).get());
  ASSERT_EQ(parents.size(), 1u);
  const int32_t parent = *parents.begin();
  if (GetParam() == StartMethod::kForkServer) {
    EXPECT_NE(parent, getpid()) << "with a fork server, workers are not children of the pool's process";
    EXPECT_EQ(brine::testing::parent_of(parent), getpid()) << "the fork server is this process's child";
    for (pid_t w : pool.worker_pids()) EXPECT_EQ(brine::testing::parent_of(w), parent);
  } else {
    EXPECT_EQ(parent, getpid());
  }
}

TEST_P(StartMethodTest, WhatAWorkerSeesOfTheParentsMemory) {
  g_marker = 7;  // before the pool starts
  brine::testing::ScratchDir dir;
  brine::Pool pool({.workers = 1, .start_method = GetParam()});
  const int first = pool.submit(marker).get();
  g_marker = 8;  // after: only a worker forked from this process now sees it
  const int32_t old_pid = pool.submit(worker_pid).get();
  ASSERT_EQ(kill(old_pid, SIGKILL), 0);
  ASSERT_TRUE(eventually([&] {
    const auto p = pool.worker_pids();
    return p.size() == 1 && p[0] != old_pid;
  }));
  const int replacement = pool.submit(marker).get();
  std::printf("[start method %s] worker sees marker %d at start, replacement sees %d (parent set 7, then 8)\n",
              name_of(GetParam()).c_str(), first, replacement);
  switch (GetParam()) {
    case StartMethod::kFork:
      EXPECT_EQ(first, 7);
      EXPECT_EQ(replacement, 8) << "a fork sees the parent as it is now";
      break;
    case StartMethod::kForkServer:
      EXPECT_EQ(first, 7);
      EXPECT_EQ(replacement, 7) << "the fork server's snapshot is from when the pool started";
      break;
    case StartMethod::kSpawn:
      EXPECT_EQ(first, 0) << "a fresh exec sees only static initialization";
      EXPECT_EQ(replacement, 0);
      break;
  }
}

TEST_P(StartMethodTest, ALambdaByValueRunsBecauseTheImageIsTheSame) {
  // Under spawn this works only because the exec'd image is this very build: the task names
  // the lambda by its offset in the image and carries the build id, which the worker checks.
  brine::Pool pool({.workers = 2, .start_method = GetParam()});
  int64_t k = 5;  // not const: a constant would not need capturing
  const int parent = getpid();
  auto times_k = [k](int64_t x) { return x * k; };
  std::vector<int64_t> xs(500);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = int64_t(i);
  const auto ys = pool.map(times_k, xs);
  for (std::size_t i = 0; i < xs.size(); ++i) ASSERT_EQ(ys[i], 5 * xs[i]);
  EXPECT_TRUE(pool.submit([parent] { return getpid() != parent; }).get());
}

TEST_P(StartMethodTest, ThousandsOfTasksAndARespawnStorm) {
#if defined(__SANITIZE_ADDRESS__)
  // GCC 12's AddressSanitizer allocator is not fork-safe: a replacement forked from this
  // multithreaded parent while another thread allocates inherits the allocator's lock held and
  // can hang at its next allocation, before or after it starts serving (about 1 run in 16 here).
  // That is the hazard the README gives for kFork; PoolOptions::start_timeout recovers the
  // first case only. The storm runs in every other build and with the other start methods.
  if (GetParam() == StartMethod::kFork) GTEST_SKIP() << "kFork respawn storm under GCC 12 ASan (its allocator is not fork-safe)";
#endif
  brine::Pool pool({.workers = 2, .start_method = GetParam(), .max_tasks_per_child = 50});
  std::vector<brine::Future<int64_t>> fs;
  for (int64_t i = 0; i < 2'000; ++i) fs.push_back(pool.submit(cube, i % 100));
  std::set<int32_t> pids;
  for (int i = 0; i < 100; ++i) pids.insert(pool.submit(worker_pid).get());
  for (int64_t i = 0; i < 2'000; ++i) {
    ASSERT_TRUE(fs[i].wait_for(120s));
    EXPECT_EQ(fs[i].get(), (i % 100) * (i % 100) * (i % 100));
  }
  EXPECT_GE(pids.size(), 2u);
  EXPECT_EQ(pool.stats().workers_crashed, 0u);
}

INSTANTIATE_TEST_SUITE_P(AllStartMethods, StartMethodTest,
                         ::testing::Values(StartMethod::kFork, StartMethod::kForkServer, StartMethod::kSpawn),
                         [](const ::testing::TestParamInfo<StartMethod>& p) { return name_of(p.param); });

TEST(StartMethodOptionsTest, SpawnRefusesPerPoolReducersClearly) {
  brine::ReducerTable table;
  const auto c = catch_of([&] { brine::Pool pool({.workers = 1, .start_method = StartMethod::kSpawn, .reducers = &table}); });
  EXPECT_EQ(c.type, "std::invalid_argument");
  EXPECT_TRUE(c.has("cannot cross exec")) << c.message;
}

// PoolOptions::worker_command: spawn execs the given program and arguments (here this binary
// again, with a gtest filter that would select nothing); its run_if_worker() serves.
TEST(StartMethodOptionsTest, SpawnExecsTheWorkerCommand) {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT_GT(n, 0);
  self[n] = 0;
  const std::string marker_arg = "--gtest_filter=brine-worker-command-marker";
  brine::Pool pool({.workers = 1, .start_method = StartMethod::kSpawn, .worker_command = {self, marker_arg}});
  EXPECT_EQ(pool.submit(start_method::cube, int64_t{3}).get(), 27);
  const int32_t pid = pool.submit(start_method::worker_pid).get();
  std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  const std::string cmdline((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_NE(cmdline.find(marker_arg), std::string::npos) << "the worker was not started with worker_command";
}

// A worker that never reaches its serving code (here the first one execs `sleep` instead of
// the worker; in real life, a child forked while another thread held a lock) is killed after
// PoolOptions::start_timeout and replaced; the task waiting for it then runs.
TEST(StartMethodOptionsTest, AWorkerStuckStartingIsKilledAndReplaced) {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT_GT(n, 0);
  self[n] = 0;
  const auto marker = std::filesystem::temp_directory_path() /
                      ("brine-stuck-start-" + std::to_string(getpid()));
  std::filesystem::remove_all(marker);
  const std::string script = "if mkdir '" + marker.string() + "' 2>/dev/null; then exec sleep 600; fi; exec \"$0\" \"$@\"";
  brine::Pool pool({.workers = 1,
                    .start_method = StartMethod::kSpawn,
                    .start_timeout = 500ms,
                    .worker_command = {"/bin/sh", "-c", script, self, "--gtest_filter=brine-stuck-start-marker"}});
  EXPECT_EQ(pool.submit(start_method::cube, int64_t{4}).get(), 64);
  EXPECT_TRUE(std::filesystem::exists(marker)) << "the first worker did not take the stuck path";
  EXPECT_EQ(pool.stats().idle_workers_crashed, 1u) << "the stuck worker is counted as a worker that died idle";
  EXPECT_EQ(pool.stats().workers_crashed, 0u);
  std::filesystem::remove_all(marker);
}

}  // namespace
