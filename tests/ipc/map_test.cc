#include <gtest/gtest.h>

#include <atomic>
#include <numeric>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "brine/ipc/pool.h"

namespace map_test {

int64_t square(int64_t x) { return x * x; }
BRINE_REGISTER(square);

int64_t fragile(int64_t x) {
  if (x == 777) throw std::out_of_range("777 is cursed");
  return x;
}
BRINE_REGISTER(fragile);

int64_t add3(int64_t a, int64_t b, int64_t c) { return a + b + c; }
BRINE_REGISTER(add3);

}  // namespace map_test

namespace {

using namespace map_test;

std::vector<int64_t> iota(std::size_t n) {
  std::vector<int64_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

TEST(MapTest, ChunksizesOneSevenAndSixtyFourGiveTheSameOrderedResults) {
  brine::Pool pool({.workers = 2});
  const auto xs = iota(5'000);
  const auto one = pool.map(square, xs, {.chunksize = 1});
  const auto seven = pool.map(square, xs, {.chunksize = 7});
  const auto sixty_four = pool.map(square, xs, {.chunksize = 64});
  const auto automatic = pool.map(square, xs);
  ASSERT_EQ(one.size(), xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) ASSERT_EQ(one[i], xs[i] * xs[i]);
  EXPECT_EQ(one, seven);
  EXPECT_EQ(one, sixty_four);
  EXPECT_EQ(one, automatic);
}

TEST(MapTest, EmptyInputGivesAnEmptyResult) {
  brine::Pool pool({.workers = 1});
  EXPECT_TRUE(pool.map(square, std::vector<int64_t>{}).empty());
}

TEST(MapTest, TuplesAreSpreadOverSeveralParameters) {
  brine::Pool pool({.workers = 2});
  std::vector<std::tuple<int64_t, int64_t, int64_t>> in;
  for (int64_t i = 0; i < 100; ++i) in.emplace_back(i, 2 * i, 3 * i);
  const auto out = pool.map(add3, in, {.chunksize = 9});
  for (int64_t i = 0; i < 100; ++i) ASSERT_EQ(out[i], 6 * i);
}

TEST(MapTest, AFailingCallThrowsItsErrorAndThePoolGoesOn) {
  brine::Pool pool({.workers = 2});
  try {
    pool.map(fragile, iota(1'000), {.chunksize = 50});
    FAIL() << "expected brine::RemoteError";
  } catch (const brine::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "std::out_of_range");
    EXPECT_EQ(e.message(), "777 is cursed");
  }
  EXPECT_EQ(pool.map(fragile, iota(10)).back(), 9);
}

// map keeps at most map_window() tasks in the pool (submitted, not completed), whatever the
// number of chunks; tuples and a failing call keep working on the one-call path.
TEST(MapTest, ManyChunksStayWithinTheWindowAndFailuresStillComeOnceAllFinished) {
  brine::Pool pool({.workers = 2, .ring_capacity = 8});
  const std::size_t window = pool.map_window();
  EXPECT_EQ(window, 16u);
  std::atomic<bool> done{false};
  std::atomic<uint64_t> most{0};
  std::thread watcher([&] {
    while (!done.load()) {
      const brine::PoolStats s = pool.stats();
      most = std::max<uint64_t>(most.load(), s.submitted - s.completed);
    }
  });
  const auto xs = iota(3'000);
  const auto one = pool.map(square, xs, {.chunksize = 1});
  const auto three = pool.map(square, xs, {.chunksize = 3});
  std::vector<std::tuple<int64_t, int64_t, int64_t>> in;
  for (int64_t i = 0; i < 500; ++i) in.emplace_back(i, i, i);
  const auto sums = pool.map(add3, in, {.chunksize = 1});
  EXPECT_THROW(pool.map(fragile, iota(2'000), {.chunksize = 1}), brine::RemoteError);
  const uint64_t completed_after_failure = pool.stats().completed;
  done = true;
  watcher.join();
  for (std::size_t i = 0; i < xs.size(); ++i) ASSERT_EQ(one[i], xs[i] * xs[i]);
  EXPECT_EQ(one, three);
  for (int64_t i = 0; i < 500; ++i) ASSERT_EQ(sums[i], 3 * i);
  EXPECT_LE(most.load(), window);
  // Every call of the failed map ran before it threw: 3000 + 1000 + 500 + 2000 tasks.
  EXPECT_EQ(completed_after_failure, 6'500u);
}

TEST(MapTest, ProgressReportsEveryCallOnce) {
  brine::Pool pool({.workers = 2});
  std::atomic<std::size_t> last{0}, calls{0};
  const std::size_t n = 1'000;
  pool.map(square, iota(n), {.chunksize = 10, .progress = [&](std::size_t done, std::size_t total) {
                               EXPECT_EQ(total, n);
                               calls.fetch_add(1);
                               std::size_t prev = last.load();
                               while (done > prev && !last.compare_exchange_weak(prev, done)) {
                               }
                             }});
  EXPECT_EQ(calls.load(), n / 10);
  EXPECT_EQ(last.load(), n);
}

TEST(MapTest, AsCompletedYieldsEveryChunkOnce) {
  brine::Pool pool({.workers = 2});
  auto chunks = pool.map_chunks(square, iota(1'000), {.chunksize = 100});
  std::set<std::size_t> seen;
  int64_t total = 0;
  for (std::size_t i : brine::as_completed(chunks)) {
    EXPECT_TRUE(seen.insert(i).second);
    for (int64_t v : chunks[i].value()) total += v;
  }
  EXPECT_EQ(seen.size(), chunks.size());
  int64_t expected = 0;
  for (int64_t x = 0; x < 1'000; ++x) expected += x * x;
  EXPECT_EQ(total, expected);
  EXPECT_TRUE(brine::wait_all(chunks, std::chrono::seconds(1)));
}

}  // namespace
