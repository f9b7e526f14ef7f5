#include "brine/ipc/spsc_ring.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>

namespace {

using brine::ipc::SpscRing;

// Anonymous shared memory, inherited across fork.
struct SharedMemory {
  explicit SharedMemory(std::size_t n) : size(n) {
    p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  }
  ~SharedMemory() { munmap(p, size); }
  void* p;
  std::size_t size;
};

TEST(SpscRingTest, TryPushFailsWhenFullAndTryPopWhenEmpty) {
  SharedMemory mem(SpscRing::bytes_for(4));
  SpscRing ring = SpscRing::create(mem.p, 4);
  uint64_t v = 0;
  EXPECT_FALSE(ring.try_pop(v));
  for (uint64_t i = 0; i < 4; ++i) EXPECT_TRUE(ring.try_push(i));
  EXPECT_FALSE(ring.try_push(99));
  EXPECT_EQ(ring.size(), 4u);
  for (uint64_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(ring.try_pop(v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(ring.try_pop(v));
  EXPECT_TRUE(ring.empty());
}

// A child process pushes 1,000,000 sequence numbers; the parent pops them and checks that
// nothing is lost, duplicated or reordered. Both sides use the sleeping wait, so the test is
// correct whatever CPUs the scheduler picks.
TEST(SpscRingTest, MovesAMillionItemsBetweenProcessesInOrder) {
  constexpr uint64_t kItems = 1'000'000;
  SharedMemory mem(SpscRing::bytes_for(1024));
  SpscRing ring = SpscRing::create(mem.p, 1024);
  const brine::ipc::WaitPolicy policy{.spin_ns = 1000, .sleep = true};
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    SpscRing r = SpscRing::attach(mem.p);
    for (uint64_t i = 1; i <= kItems; ++i) {
      while (!r.push_and_notify(i)) {
        r.producer_wake().wait([&] { return r.size() < r.capacity(); }, policy);
      }
    }
    _exit(0);
  }
  uint64_t expected = 1, v = 0, sum = 0;
  while (expected <= kItems) {
    if (!ring.pop_and_notify(v)) {
      ring.consumer_wake().wait([&] { return !ring.empty(); }, policy);
      continue;
    }
    ASSERT_EQ(v, expected) << "lost, duplicated or reordered";
    sum += v;
    ++expected;
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(sum, kItems * (kItems + 1) / 2);
  EXPECT_TRUE(ring.empty());
}

}  // namespace
