// A computed result is never lost to what happens after it (issue 17, item 1): the worker
// publishes the result first and only then destroys the call's arguments and its returned
// value, so an argument whose destructor aborts, exits or is SIGKILLed takes down the worker
// (which the pool replaces) but not the task, in each start method.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>
#include <string>
#include <tuple>
#include <utility>

#include "brine/ipc/pool.h"

namespace published {

enum How : int { kHarmless = 0, kAbort = 1, kExit = 2, kSigkill = 3 };

// Misbehaves in its destructor, in a worker only (not in `parent`), once it holds a value
// (a moved-from Bomb is disarmed).
struct Bomb {
  int how = kHarmless;
  int parent = 0;
  Bomb() = default;
  Bomb(int h, int p) : how(h), parent(p) {}
  Bomb(const Bomb&) = default;
  Bomb(Bomb&& o) noexcept : how(std::exchange(o.how, kHarmless)), parent(o.parent) {}
  Bomb& operator=(const Bomb&) = default;
  ~Bomb() {
    if (how == kHarmless || parent == 0 || getpid() == parent) return;
    switch (how) {
      case kAbort: std::abort();
      case kExit: std::exit(3);
      case kSigkill: kill(getpid(), SIGKILL); pause();
      default: break;
    }
  }
};

int defuse(const Bomb& b) { return 40 + b.how; }
BRINE_REGISTER_AS(defuse, "published::defuse");

int32_t worker_pid() { return getpid(); }
BRINE_REGISTER_AS(worker_pid, "published::worker_pid");

}  // namespace published

template <>
struct brine::Reducer<published::Bomb> {
  using As = std::tuple<int, int>;
  static As reduce(const published::Bomb& b) { return {b.how, b.parent}; }
  static published::Bomb rebuild(const As& t) { return published::Bomb(std::get<0>(t), std::get<1>(t)); }
};

namespace {

using namespace published;
using brine::StartMethod;

class PublishedResultTest : public ::testing::TestWithParam<std::tuple<StartMethod, int>> {};

TEST_P(PublishedResultTest, ACrashInAnArgumentsDestructorAfterTheResultDoesNotFailTheTask) {
  const auto [method, how] = GetParam();
  brine::Pool pool({.workers = 1, .start_method = method});
  const int parent = getpid();
  const int32_t first = pool.submit(worker_pid).get();
  // The function returned 40 + how; the worker then dies destroying its argument.
  EXPECT_EQ(pool.submit(defuse, Bomb(how, parent)).get(), 40 + how);
  // The pool replaces the worker and keeps serving.
  int32_t now = first;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (now == first && std::chrono::steady_clock::now() < deadline) {
    now = pool.submit(worker_pid).get();
    if (now == first) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(now, first) << "the worker that crashed after delivering must have been replaced";
  EXPECT_EQ(pool.submit(defuse, Bomb(kHarmless, parent)).get(), 40);
}

std::string case_name(const ::testing::TestParamInfo<std::tuple<StartMethod, int>>& p) {
  static const char* const kMethod[] = {"Fork", "ForkServer", "Spawn"};
  static const char* const kHow[] = {"Harmless", "Abort", "Exit", "Sigkill"};
  return std::string(kMethod[int(std::get<0>(p.param))]) + kHow[std::get<1>(p.param)];
}

INSTANTIATE_TEST_SUITE_P(
    StartMethodsAndCrashes, PublishedResultTest,
    ::testing::Combine(::testing::Values(StartMethod::kFork, StartMethod::kForkServer, StartMethod::kSpawn),
                       ::testing::Values(int(kAbort), int(kExit), int(kSigkill))),
    case_name);

}  // namespace
