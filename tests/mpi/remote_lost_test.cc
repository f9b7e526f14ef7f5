// Results kept on a rank that stops answering: run by tests/CMakeLists.txt with `mpirun -np 3`
// on this host. Two results are kept, one on each serving rank; rank 0 stops the rank holding
// one of them with SIGSTOP. With host_timeout = 1 s, a fetch already on its way, a later get(),
// and a task that takes the lost value must all fail with brine::HostLost (never hang), while
// the value on the other rank stays usable. The last test shuts the cluster down and checks that
// a handle used afterwards says so. As in host_lost_test.cc, the driver skips MPI_Finalize and
// SIGKILLs the rank it stopped at the end, so mpirun ends the job; ctest checks the output.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <numeric>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "brine/mpi/cluster.h"

namespace {

brine::ClusterPool* g_pool = nullptr;
pid_t g_stopped = 0;  // the rank this test stopped, killed at exit

std::vector<double> slow_ramp(int n, int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  std::vector<double> out(static_cast<std::size_t>(n));
  std::iota(out.begin(), out.end(), 0.0);
  return out;
}
BRINE_REGISTER(slow_ramp);

double sum_of(std::span<const double> xs) { return std::accumulate(xs.begin(), xs.end(), 0.0); }
BRINE_REGISTER(sum_of);

constexpr int kN = 100'000;
constexpr double kSum = double(kN) * (kN - 1) / 2;

TEST(RemoteLostTest, ValuesKeptOnALostRankFailWithHostLostAndTheOthersStay) {
  // Made at the same time, the two results land on the two ranks.
  brine::RemoteRef<std::vector<double>> kept = g_pool->submit_remote(slow_ramp, kN, 300);
  brine::RemoteRef<std::vector<double>> doomed = g_pool->submit_remote(slow_ramp, kN, 300);
  ASSERT_NE(kept.rank(), doomed.rank());
  pid_t victim = 0;
  std::string host;
  for (const auto& r : g_pool->stats().ranks) {
    if (r.rank == doomed.rank()) {
      victim = r.pid;
      host = r.host;
    }
  }
  char here[256] = {};
  gethostname(here, sizeof here - 1);
  ASSERT_EQ(host, here) << "this test stops a rank by pid: it runs on one host";
  ASSERT_GT(victim, 0);
  ASSERT_EQ(kill(victim, SIGSTOP), 0);
  g_stopped = victim;

  // A fetch sent to the stopped rank fails once the rank is given up (host_timeout), and names it.
  brine::Future<std::vector<double>> in_flight = doomed.fetch();
  try {
    in_flight.get();
    FAIL() << "no exception";
  } catch (const brine::HostLost& e) {
    EXPECT_NE(std::string(e.what()).find("rank " + std::to_string(doomed.rank())), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("slow_ramp"), std::string::npos) << e.what();
  }
  // From then on: at once.
  EXPECT_THROW(doomed.get(), brine::HostLost);
  try {
    g_pool->submit(sum_of, doomed).get();
    FAIL() << "no exception";
  } catch (const brine::HostLost& e) {
    EXPECT_NE(std::string(e.what()).find("sum_of"), std::string::npos) << e.what();
  }
  EXPECT_THROW(g_pool->submit_remote(sum_of, doomed).get(), brine::HostLost);

  // The other rank's value is intact, and still read in place there.
  EXPECT_EQ(kept.get().back(), kN - 1.0);
  EXPECT_EQ(g_pool->submit(sum_of, kept).get(), kSum);
  bool lost = false;
  for (const auto& r : g_pool->stats().ranks) {
    if (r.rank == doomed.rank()) lost = r.lost;
  }
  EXPECT_TRUE(lost);
}

TEST(RemoteLostTest, HandlesUsedAfterShutdownSaySo) {
  brine::RemoteRef<std::vector<double>> ref = g_pool->submit_remote(slow_ramp, 10, 0);
  ref.wait();
  g_pool->shutdown();
  try {
    ref.get();
    FAIL() << "no exception";
  } catch (const brine::PoolClosed& e) {
    EXPECT_NE(std::string(e.what()).find("shut down"), std::string::npos) << e.what();
  }
  EXPECT_THROW(g_pool->submit(sum_of, ref), brine::PoolClosed);
  EXPECT_THROW(g_pool->submit_remote(slow_ramp, 1, 0), brine::PoolClosed);
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
  pool.shutdown();  // done by the last test; does not wait for the stopped rank
  std::printf("driver shut down, rc %d\n", rc);
  std::fflush(stdout);
  std::fflush(stderr);
  if (g_stopped > 0) kill(g_stopped, SIGKILL);
  return rc;
}
