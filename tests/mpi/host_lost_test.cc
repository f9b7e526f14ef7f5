// A rank that stops answering: run by tests/CMakeLists.txt with `mpirun -np 3` on this host.
// Rank 0 stops rank 2 with SIGSTOP while it runs tasks; with host_timeout = 1 s, those tasks
// must fail with brine::HostLost within a bounded time and the cluster must go on with rank 1.
// At the end the driver skips MPI_Finalize (it would wait for rank 2 forever), reports, and
// SIGKILLs the rank it stopped: mpirun then ends the job on a dead rank, its most ordinary path,
// rather than on having to wake a stopped one (a CI run once waited out ctest's timeout there).
// ctest checks the output, not mpirun's exit status.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "brine/mpi/cluster.h"

namespace {

brine::ClusterPool* g_pool = nullptr;
pid_t g_stopped = 0;  // the rank this test stopped, killed at exit

int nap_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
BRINE_REGISTER(nap_ms);

TEST(HostLostTest, ASilentRanksTasksFailAndTheOthersGoOn) {
  const auto ranks = g_pool->stats().ranks;
  ASSERT_EQ(ranks.size(), 2u);
  char here[256] = {};
  gethostname(here, sizeof here - 1);
  ASSERT_EQ(ranks[1].host, here) << "this test stops a rank by pid: it runs on one host";
  const pid_t victim = ranks[1].pid;

  // Both ranks busy: 2 long tasks each.
  std::vector<brine::Future<int>> fs;
  for (int i = 0; i < 4; ++i) fs.push_back(g_pool->submit(nap_ms, 3000));
  while (g_pool->stats().backlog != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(kill(victim, SIGSTOP), 0);
  g_stopped = victim;
  const auto stopped = std::chrono::steady_clock::now();

  // The stopped rank's two tasks fail first, after host_timeout (1 s), long before the 3 s naps
  // of the other rank end.
  auto finished = [&] { return std::count_if(fs.begin(), fs.end(), [](const auto& f) { return f.done(); }); };
  while (finished() < 2 && std::chrono::steady_clock::now() - stopped < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto first_two = std::chrono::steady_clock::now() - stopped;
  EXPECT_GE(first_two, std::chrono::milliseconds(900));
  EXPECT_LT(first_two, std::chrono::milliseconds(2500)) << "HostLost took too long";
  int lost = 0, done = 0;
  for (auto& f : fs) {
    try {
      EXPECT_EQ(f.get(), 3000);
      ++done;
    } catch (const brine::HostLost& e) {
      ++lost;
      EXPECT_NE(std::string(e.what()).find("rank 2"), std::string::npos) << e.what();
      EXPECT_EQ(e.code(), brine::ErrorCode::kWorkerCrashed);
    }
  }
  EXPECT_EQ(lost, 2);
  EXPECT_EQ(done, 2);
  bool rank2_lost = false;
  for (const auto& r : g_pool->stats().ranks) {
    if (r.rank == 2) rank2_lost = r.lost;
  }
  EXPECT_TRUE(rank2_lost);

  // The cluster goes on with rank 1 alone.
  std::vector<int> xs(20, 1);
  const std::vector<int> ys = g_pool->map(nap_ms, xs, {.chunksize = 1});
  EXPECT_EQ(ys, xs);
  for (const auto& r : g_pool->stats().ranks) {
    if (r.rank == 2) {
      EXPECT_EQ(r.in_flight, 0u);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  brine::ClusterOptions options;
  options.pool.workers = 2;
  options.host_timeout = std::chrono::milliseconds(1000);
  brine::ClusterPool pool(options, &argc, &argv);  // ranks >= 1 serve here
  g_pool = &pool;
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  pool.shutdown();  // does not wait for the stopped rank
  std::printf("driver shut down, rc %d\n", rc);
  std::fflush(stdout);
  std::fflush(stderr);
  if (g_stopped > 0) kill(g_stopped, SIGKILL);
  return rc;
}
