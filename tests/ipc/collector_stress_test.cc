// The parent-side collector under stress, for ThreadSanitizer (the tsan preset runs it): ten
// threads for five seconds (BRINE_STRESS_SECONDS) submit, map, cancel, and add done-callbacks
// that submit from the collector's thread, all on one pool. Every result must be right, every
// cancelled task must say so, and the counters must add up once everything is in.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "brine/ipc/pool.h"

namespace collector_stress {

int64_t add3(int64_t a, int64_t b) { return a + b; }
BRINE_REGISTER_AS(add3, "collector_stress::add3");

int64_t square3(int64_t x) { return x * x; }
BRINE_REGISTER_AS(square3, "collector_stress::square3");

int64_t spin_then(int64_t us, int64_t v) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
  while (std::chrono::steady_clock::now() < until) {
  }
  return v;
}
BRINE_REGISTER_AS(spin_then, "collector_stress::spin_then");

}  // namespace collector_stress

namespace {

using namespace collector_stress;
using Clock = std::chrono::steady_clock;

double stress_seconds() {
  const char* s = std::getenv("BRINE_STRESS_SECONDS");
  return s != nullptr ? std::atof(s) : 5.0;
}

TEST(CollectorStressTest, TenThreadsSubmitMapCancelAndSubmitFromCallbacks) {
  brine::Pool pool({.workers = 2, .ring_capacity = 16, .slot_count = 64});
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(stress_seconds()));
  std::atomic<uint64_t> wrong{0}, results{0}, cancelled{0}, chained{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 10; ++t) {
    threads.emplace_back([&, t] {
      for (int64_t i = 0; Clock::now() < deadline; ++i) {
        switch (t % 4) {
          case 0: {  // submit a burst, then collect it
            std::vector<brine::Future<int64_t>> fs;
            for (int64_t k = 0; k < 16; ++k) fs.push_back(pool.submit(add3, i, k));
            for (int64_t k = 0; k < 16; ++k) wrong += fs[k].get() != i + k;
            results += 16;
            break;
          }
          case 1: {  // map
            std::vector<int64_t> xs(64);
            for (int64_t k = 0; k < 64; ++k) xs[k] = k + i;
            const auto out = pool.map(square3, xs, {.chunksize = 8});
            for (int64_t k = 0; k < 64; ++k) wrong += out[k] != xs[k] * xs[k];
            results += 64;
            break;
          }
          case 2: {  // cancel: either it was cancelled, or it ran and its value is right
            auto f = pool.submit(spin_then, 200, i);
            if (f.cancel()) {
              try {
                f.get();
                ++wrong;
              } catch (const brine::Cancelled&) {
                ++cancelled;
              }
            } else {
              wrong += f.get() != i;
              ++results;
            }
            break;
          }
          case 3: {  // a done-callback submits from the thread that completes the future
            auto next = std::make_shared<std::promise<brine::Future<int64_t>>>();
            auto f = pool.submit(add3, i, 1);
            f.add_done_callback([&pool, next, i] {
              try {
                next->set_value(pool.submit(add3, i, 2));
              } catch (...) {
                next->set_exception(std::current_exception());
              }
            });
            wrong += f.get() != i + 1;
            wrong += next->get_future().get().get() != i + 2;
            ++chained;
            results += 2;
            break;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_GT(results.load(), 0u);
  EXPECT_GT(chained.load(), 0u);
  // A cancelled task's future fails at once, but its slot comes back only once a worker skips
  // it: shutdown(wait) is the documented way to wait for everything in flight.
  pool.shutdown(/*wait=*/true);
  const auto s = pool.stats();
  EXPECT_EQ(s.submitted, s.completed) << "every task submitted was completed (cancelled ones included)";
  EXPECT_EQ(s.workers_crashed, 0u);
  std::printf("[stress] %.1f s, 10 threads: %llu results, %llu cancelled, %llu chained from callbacks\n",
              stress_seconds(), static_cast<unsigned long long>(results.load()),
              static_cast<unsigned long long>(cancelled.load()), static_cast<unsigned long long>(chained.load()));
}

}  // namespace
