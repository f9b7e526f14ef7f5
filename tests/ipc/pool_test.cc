#include "brine/ipc/pool.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include "test_support.h"

namespace pool_test {

int add(int a, int b) { return a + b; }
BRINE_REGISTER(add);

void nothing() {}
BRINE_REGISTER(nothing);

int divide(int a, int b) {
  if (b == 0) throw std::domain_error("division by zero: " + std::to_string(a) + " / 0");
  return a / b;
}
BRINE_REGISTER(divide);

std::string greet(const std::string& name, std::optional<int> times) {
  std::string out;
  for (int i = 0; i < times.value_or(1); ++i) out += "hello " + name + ";";
  return out;
}
BRINE_REGISTER(greet);

double sum(std::span<const double> xs) { return std::accumulate(xs.begin(), xs.end(), 0.0); }
BRINE_REGISTER(sum);

std::vector<double> scaled(std::span<const double> xs, double k) {
  std::vector<double> out(xs.begin(), xs.end());
  for (double& x : out) x *= k;
  return out;
}
BRINE_REGISTER(scaled);

int32_t my_pid() { return getpid(); }
BRINE_REGISTER(my_pid);

// Waits until `n` tasks are inside it at the same time (each leaves a marker file in `dir`),
// then returns its worker's pid; -1 if they never met (a 30 s guard, not a timing assertion).
int32_t rendezvous(std::string dir, int32_t n, int32_t i) {
  std::ofstream(dir + "/" + std::to_string(i)).put('x');
  for (int k = 0; k < 30'000; ++k) {
    int32_t seen = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++seen;
    if (seen >= n) return getpid();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return -1;
}
BRINE_REGISTER(rendezvous);

int sleep_then(int ms, int v) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return v;
}
BRINE_REGISTER(sleep_then);

int unregistered(int x) { return x; }

// A task that throws one of brine's own errors: it must read as such on the other side.
int throws_brine_error(int) { throw brine::DecodeError("brine: the task's own decoding failed; fix its input"); }
BRINE_REGISTER(throws_brine_error);

}  // namespace pool_test

namespace {

using namespace pool_test;

TEST(PoolTest, RunsATaskInAnotherProcess) {
  brine::Pool pool({.workers = 1});
  EXPECT_EQ(pool.submit(add, 2, 40).get(), 42);
  const int32_t remote = pool.submit(my_pid).get();
  EXPECT_NE(remote, getpid());
  EXPECT_EQ(pool.worker_pids(), std::vector<pid_t>{remote});
  pool.submit(nothing).get();
}

TEST(PoolTest, HundredThousandTasksOverTwoWorkersAllReturnTheRightValue) {
  brine::Pool pool({.workers = 2});
  constexpr int kTasks = 100'000;
  std::vector<brine::Future<int>> futures;
  futures.reserve(kTasks);
  for (int i = 0; i < kTasks; ++i) futures.push_back(pool.submit(add, i, 7));
  for (int i = 0; i < kTasks; ++i) ASSERT_EQ(futures[i].get(), i + 7) << "task " << i;
  const auto stats = pool.stats();
  EXPECT_EQ(stats.submitted, uint64_t(kTasks));
  EXPECT_EQ(stats.completed, uint64_t(kTasks));
}

// Two tasks that can only finish together finish: each worker runs one of them at the same
// time. (Which worker runs which short task of a stream is the scheduler's choice: the first
// free one, see scheduler_test.cc; so this checks spreading with tasks that need it.)
TEST(PoolTest, TasksAreSpreadOverEveryWorker) {
  brine::Pool pool({.workers = 2});
  char tmpl[] = "/tmp/brine-pool-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  auto a = pool.submit(rendezvous, dir, 2, 0);
  auto b = pool.submit(rendezvous, dir, 2, 1);
  const int32_t pa = a.get(), pb = b.get();
  std::filesystem::remove_all(dir);
  EXPECT_NE(pa, -1);
  EXPECT_NE(pb, -1);
  EXPECT_NE(pa, pb);
  const std::vector<pid_t> workers = pool.worker_pids();
  EXPECT_EQ(std::set<pid_t>(workers.begin(), workers.end()), (std::set<pid_t>{pa, pb}));
}

TEST(PoolTest, ValuesOfManyTypesTravelBothWays) {
  brine::Pool pool({.workers = 1});
  EXPECT_EQ(pool.submit(greet, std::string("ada"), std::optional<int>(2)).get(), "hello ada;hello ada;");
  EXPECT_EQ(pool.submit(greet, "bob", std::optional<int>()).get(), "hello bob;");
  std::vector<double> xs(1000);
  std::iota(xs.begin(), xs.end(), 1.0);
  EXPECT_DOUBLE_EQ(pool.submit(sum, xs).get(), 500500.0);
  EXPECT_EQ(pool.submit(scaled, xs, 2.0).get()[999], 2000.0);
}

TEST(PoolTest, LargeArgumentsAndResultsGoThroughTheArena) {
  brine::Pool pool({.workers = 1});
  std::vector<double> xs(1 << 20, 0.5);  // 8 MiB: above the threshold, and above a slot
  EXPECT_DOUBLE_EQ(pool.submit(sum, xs).get(), double(1 << 19));
  auto f = pool.submit(scaled, xs, 4.0);
  const std::vector<double> big = f.get();
  ASSERT_EQ(big.size(), xs.size());
  EXPECT_EQ(big.front(), 2.0);
  EXPECT_EQ(big.back(), 2.0);
  // Copying forced, the same data still arrives (inline envelope in an arena block).
  EXPECT_DOUBLE_EQ(pool.submit(sum, brine::copy(xs)).get(), double(1 << 19));
}

TEST(PoolTest, AThrowingTaskReachesTheCallerAsRemoteErrorAndThePoolGoesOn) {
  brine::Pool pool({.workers = 1});
  auto f = pool.submit(divide, 7, 0);
  try {
    f.get();
    FAIL() << "expected brine::RemoteError";
  } catch (const brine::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "std::domain_error");
    EXPECT_EQ(e.message(), "division by zero: 7 / 0");
    EXPECT_EQ(e.where(), "divide");
    EXPECT_NE(std::string(e.what()).find("division by zero"), std::string::npos);
  }
  EXPECT_EQ(pool.submit(divide, 8, 2).get(), 4);
}

TEST(PoolTest, ABrineErrorThrownByATaskKeepsItsReadableNameInTheRemoteError) {
  brine::Pool pool({.workers = 1});
  try {
    pool.submit(throws_brine_error, 1).get();
    FAIL() << "expected brine::RemoteError";
  } catch (const brine::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "brine::DecodeError");
    EXPECT_EQ(e.message(), "brine::DecodeError: the task's own decoding failed; fix its input");
    EXPECT_EQ(std::string(e.what()).rfind("brine::RemoteError: brine::DecodeError in throws_brine_error: ", 0), 0u)
        << e.what();
  }
}

TEST(PoolTest, GetTakesTheErrorSoASecondGetSaysItWasAlreadyRetrieved) {
  brine::Pool pool({.workers = 1});
  auto f = pool.submit(divide, 1, 0);
  EXPECT_THROW(f.get(), brine::RemoteError);
  try {
    f.get();
    FAIL() << "expected std::future_error";
  } catch (const std::future_error& e) {
    EXPECT_EQ(e.code(), std::future_errc::future_already_retrieved);
  }
  EXPECT_THROW((void)f.value(), std::future_error);
  EXPECT_EQ(pool.submit(divide, 8, 2).get(), 4);
}

TEST(PoolTest, AnUnregisteredFunctionIsRefusedAtSubmitWithItsSignature) {
  brine::Pool pool({.workers = 1});
  try {
    pool.submit(unregistered, 1);
    FAIL() << "expected brine::NotRegistered";
  } catch (const brine::NotRegistered& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("is not registered"), std::string::npos) << what;
    EXPECT_NE(what.find("(i32)"), std::string::npos) << what;
    EXPECT_NE(what.find("BRINE_REGISTER"), std::string::npos) << what;
  }
  EXPECT_EQ(pool.submit(add, 1, 1).get(), 2);
}

TEST(PoolTest, AKilledWorkerFailsItsTaskWithWorkerCrashedAndIsReplaced) {
  brine::Pool pool({.workers = 1});
  const pid_t victim = pool.worker_pids().at(0);
  auto stuck = pool.submit(sleep_then, 10'000, 1);
  auto queued = pool.submit(add, 20, 22);
  while (!brine::testing::process_exists(victim)) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let it start the sleep
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  try {
    stuck.get();
    FAIL() << "expected brine::WorkerCrashed";
  } catch (const brine::WorkerCrashed& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("pid " + std::to_string(victim)), std::string::npos) << what;
    EXPECT_NE(what.find("signal 9"), std::string::npos) << what;
    EXPECT_NE(what.find("sleep_then"), std::string::npos) << what;
  }
  EXPECT_EQ(queued.get(), 42) << "the task queued behind the crash runs on the replacement";
  const auto pids = pool.worker_pids();
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_NE(pids[0], victim);
  EXPECT_EQ(pool.stats().workers_crashed, 1u);
}

TEST(PoolTest, WaitForWithAZeroOrNegativeTimeoutOnlyChecks) {
  brine::Pool pool({.workers = 1});
  auto slow = pool.submit(sleep_then, 2'000, 7);
  EXPECT_FALSE(slow.wait_for(std::chrono::milliseconds(-1)));  // as std::future: no wait at all
  EXPECT_FALSE(slow.wait_for(std::chrono::milliseconds(0)));
  EXPECT_FALSE(slow.done());
  EXPECT_TRUE(slow.wait_for(std::chrono::seconds(60)));
  EXPECT_EQ(slow.get(), 7);
}

// Nobody waits: polling done() alone sees a lone task finish (done() drains what has
// completed), and tasks observed only through callbacks all run them (the collector drains
// what no waiter collects), whether they completed before or after the callback was added.
TEST(PoolTest, TasksNobodyWaitsForAreSeenByPollingDoneAndRunTheirCallbacks) {
  using namespace std::chrono_literals;
  brine::Pool pool({.workers = 2});
  for (int round = 0; round < 3; ++round) {
    auto lone = pool.submit(add, round, 3);
    const auto until = std::chrono::steady_clock::now() + 60s;
    while (!lone.done() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
    ASSERT_TRUE(lone.done()) << "round " << round;
    EXPECT_EQ(lone.get(), round + 3);
  }
  constexpr int kTasks = 20;
  std::atomic<int> called{0};
  std::promise<void> all;
  std::vector<brine::Future<int>> futures;
  for (int i = 0; i < kTasks; ++i) futures.push_back(pool.submit(sleep_then, i % 3 == 0 ? 0 : 20, i));
  std::this_thread::sleep_for(5ms);  // some complete before their callback is added, some after
  for (auto& f : futures) {
    f.add_done_callback([&] {
      if (called.fetch_add(1) + 1 == kTasks) all.set_value();
    });
  }
  ASSERT_EQ(all.get_future().wait_for(60s), std::future_status::ready) << called.load() << " callbacks ran";
  for (int i = 0; i < kTasks; ++i) EXPECT_EQ(futures[i].get(), i);
}

TEST(PoolTest, DestroyingThePoolLeavesNoSegmentNoFdAndNoChild) {
  const auto shm_before = brine::testing::brine_shm_entries();
  ASSERT_TRUE(brine::testing::brine_memfds().empty());
  std::vector<pid_t> pids;
  {
    brine::Pool pool({.workers = 2});
    pids = pool.worker_pids();
    EXPECT_EQ(brine::testing::brine_memfds().size(), 1u);
    for (int i = 0; i < 100; ++i) pool.submit(add, i, i);
    EXPECT_EQ(pool.submit(add, 1, 2).get(), 3);
  }
  EXPECT_EQ(brine::testing::brine_shm_entries(), shm_before);
  EXPECT_TRUE(brine::testing::brine_memfds().empty());
  EXPECT_TRUE(brine::testing::child_pids().empty());
  for (pid_t p : pids) EXPECT_FALSE(brine::testing::process_exists(p)) << p;
}

TEST(PoolTest, ShutdownFinishesQueuedWorkThenRefusesNewWork) {
  brine::Pool pool({.workers = 1});
  std::vector<brine::Future<int>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back(pool.submit(sleep_then, 1, i));
  pool.shutdown(true);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(fs[i].get(), i);
  EXPECT_THROW(pool.submit(add, 1, 2), brine::PoolClosed);
}

}  // namespace
