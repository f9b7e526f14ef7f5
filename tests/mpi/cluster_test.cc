// brine::ClusterPool under mpirun (tests/CMakeLists.txt runs this binary with
// `mpirun -np 3`, once over shared memory and once over TCP). Rank 0 runs the tests; ranks 1
// and 2 serve with 2 workers each and never return from the ClusterPool constructor.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>
#include <numeric>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "brine/core/serialize.h"
#include "brine/mpi/cluster.h"

namespace {

brine::ClusterPool* g_pool = nullptr;
// BRINE_TEST_DRIVER_WORKERS=n: rank 0 runs a pool of n workers too (ClusterOptions::driver_workers).
unsigned g_driver_workers = 0;

std::set<int> serving_ranks() {
  std::set<int> out;
  for (const auto& r : g_pool->stats().ranks) out.insert(r.rank);
  return out;
}

// The MPI rank of the process this worker serves (workers inherit the launcher's environment).
int rank_here() {
  const char* r = std::getenv("OMPI_COMM_WORLD_RANK");
  return r != nullptr ? std::atoi(r) : -1;
}

double square(double x) { return x * x; }
BRINE_REGISTER(square);

std::string label(int i) { return "item-" + std::to_string(i) + "@" + std::to_string(rank_here()); }
BRINE_REGISTER(label);

int where_after(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return rank_here();
}
BRINE_REGISTER(where_after);

double divide(double a, double b) {
  if (b == 0) throw std::domain_error("division by zero");
  return a / b;
}
BRINE_REGISTER(divide);

int die_by_sigkill() {
  raise(SIGKILL);
  return 0;
}
BRINE_REGISTER(die_by_sigkill);

double total(std::span<const double> xs) { return std::accumulate(xs.begin(), xs.end(), 0.0); }
BRINE_REGISTER(total);

double affine(double a, double b, double x) { return a * x + b; }
BRINE_REGISTER(affine);

std::vector<double> scaled(std::vector<double> xs, double k) {
  for (double& x : xs) x *= k;
  return xs;
}
BRINE_REGISTER(scaled);

void must_be_positive(int x) {
  if (x <= 0) throw std::invalid_argument("not positive: " + std::to_string(x));
}
BRINE_REGISTER(must_be_positive);

// n values 0, 1, 2, ... made after `ms` milliseconds (a result kept where it was made).
std::vector<double> ramp(int n, int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  std::vector<double> out(static_cast<std::size_t>(n));
  std::iota(out.begin(), out.end(), 0.0);
  return out;
}
BRINE_REGISTER(ramp);

std::vector<double> broken_ramp(int n) { throw std::length_error("no ramp of " + std::to_string(n)); }
BRINE_REGISTER(broken_ramp);

std::vector<double> scaled_view(std::span<const double> xs, double k) {
  std::vector<double> out(xs.begin(), xs.end());
  for (double& x : out) x *= k;
  return out;
}
BRINE_REGISTER(scaled_view);

// Where the task ran and what it read: the sum, and whether the bytes were in this process's
// memory without a copy into the envelope (they are, for any span argument).
std::pair<int, double> where_total(std::span<const double> xs) {
  return {rank_here(), std::accumulate(xs.begin(), xs.end(), 0.0)};
}
BRINE_REGISTER(where_total);

std::pair<int, double> where_dot(std::span<const double> a, std::span<const double> b) {
  double s = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) s += a[i] * b[i];
  return {rank_here(), s};
}
BRINE_REGISTER(where_dot);

double total_vector(std::vector<double> xs) { return std::accumulate(xs.begin(), xs.end(), 0.0); }
BRINE_REGISTER(total_vector);

double total_shared(brine::SharedVector<double> xs) { return std::accumulate(xs.begin(), xs.end(), 0.0); }
BRINE_REGISTER(total_shared);

brine::ClusterRankStats rank_stats(int rank) {
  for (const auto& r : g_pool->stats().ranks) {
    if (r.rank == rank) return r;
  }
  ADD_FAILURE() << "no rank " << rank << " in stats";
  return {};
}

TEST(ClusterPoolTest, RanksAdvertiseTheirWorkers) {
  const brine::ClusterStats s = g_pool->stats();
  ASSERT_EQ(s.ranks.size(), static_cast<std::size_t>(g_pool->rank_count() - 1 + (g_driver_workers > 0 ? 1 : 0)));
  unsigned workers = 0;
  for (const auto& r : s.ranks) {
    EXPECT_EQ(r.rank == 0, g_driver_workers > 0 && &r == &s.ranks.front()) << "rank 0 comes first, with workers only";
    EXPECT_EQ(r.workers, 2u);
    EXPECT_FALSE(r.host.empty());
    EXPECT_GT(r.pid, 0);
    EXPECT_EQ(r.pid == getpid(), r.rank == 0);
    workers += r.workers;
  }
  EXPECT_EQ(g_pool->size(), workers);
}

// Under tests/mpi/netns_test.sh every rank is a host of its own (a network namespace with its
// own hostname): the driver must see each rank on the host the launcher put it on.
TEST(ClusterPoolTest, RanksRunOnTheHostsTheLauncherChose) {
  const char* expected = std::getenv("BRINE_TEST_EXPECT_HOSTS");
  if (expected == nullptr) GTEST_SKIP() << "single host run (BRINE_TEST_EXPECT_HOSTS unset)";
  std::string want = expected;
  char here[256] = {};
  gethostname(here, sizeof here - 1);
  for (const auto& r : g_pool->stats().ranks) {
    EXPECT_NE(want.find(r.host), std::string::npos) << r.host << " not in " << want;
    EXPECT_NE(r.host, here) << "rank " << r.rank << " shares the driver's host";
  }
}

TEST(ClusterPoolTest, SubmitReturnsValuesComputedOnServingRanks) {
  std::vector<brine::Future<double>> fs;
  for (int i = 0; i < 50; ++i) fs.push_back(g_pool->submit(square, 0.5 * i));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(fs[i].get(), 0.25 * i * i);
  const std::string s = g_pool->submit(label, 7).get();
  EXPECT_EQ(s.rfind("item-7@", 0), 0u) << s;
  const int rank = std::stoi(s.substr(7));
  EXPECT_TRUE(serving_ranks().count(rank)) << "rank " << rank << " has no workers in this run";
}

TEST(ClusterPoolTest, TasksSpreadOverEveryRank) {
  // Slow tasks, twice the cluster's workers: every rank must take some.
  std::vector<brine::Future<int>> fs;
  for (unsigned i = 0; i < 2 * g_pool->size(); ++i) fs.push_back(g_pool->submit(where_after, 100));
  std::map<int, int> by_rank;
  for (auto& f : fs) ++by_rank[f.get()];
  EXPECT_EQ(by_rank.size(), serving_ranks().size());
  for (const auto& [rank, n] : by_rank) EXPECT_EQ(n, 4) << "rank " << rank << " (2 workers, 2 rounds)";
}

TEST(ClusterPoolTest, NothingBeyondARanksWorkersIsSentToIt) {
  std::vector<brine::Future<int>> fs;
  const unsigned n = 3 * g_pool->size();
  for (unsigned i = 0; i < n; ++i) fs.push_back(g_pool->submit(where_after, 300));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const brine::ClusterStats s = g_pool->stats();
  EXPECT_EQ(s.backlog, n - g_pool->size());
  for (const auto& r : s.ranks) EXPECT_EQ(r.in_flight, r.workers) << "rank " << r.rank;
  for (auto& f : fs) f.get();
}

TEST(ClusterPoolTest, ShortTasksDoNotWaitBehindALongOne) {
  // One long task, then many short ones: they all run on the other workers meanwhile.
  const auto start = std::chrono::steady_clock::now();
  auto slow = g_pool->submit(where_after, 1500);
  std::vector<brine::Future<int>> fs;
  for (int i = 0; i < 30; ++i) fs.push_back(g_pool->submit(where_after, 20));
  for (auto& f : fs) f.get();
  const auto shorts_done = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(slow.done());
  EXPECT_LT(shorts_done, std::chrono::milliseconds(1400));
  slow.get();
}

TEST(ClusterPoolTest, MapMatchesTheSameComputationInProcess) {
  std::vector<double> xs(10'000);
  std::iota(xs.begin(), xs.end(), -5000.0);
  const std::vector<double> got = g_pool->map(brine::partial(affine, 3.0, -1.0), xs);  // vectorized chunks
  ASSERT_EQ(got.size(), xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) ASSERT_EQ(got[i], 3.0 * xs[i] - 1.0) << i;

  std::vector<int> is(500);
  std::iota(is.begin(), is.end(), 0);
  std::size_t progress_last = 0;
  const std::vector<std::string> labels =
      g_pool->map(label, is, {.chunksize = 16, .progress = [&](std::size_t done, std::size_t) { progress_last = std::max(progress_last, done); }});
  ASSERT_EQ(labels.size(), is.size());
  std::set<std::string> ranks_seen;
  for (int i = 0; i < 500; ++i) {
    const std::string prefix = "item-" + std::to_string(i) + "@";
    ASSERT_EQ(labels[i].rfind(prefix, 0), 0u) << labels[i];
    ranks_seen.insert(labels[i].substr(prefix.size()));
  }
  EXPECT_EQ(progress_last, 500u);
  for (const std::string& r : ranks_seen) EXPECT_TRUE(serving_ranks().count(std::stoi(r))) << r;
}

TEST(ClusterPoolTest, MapChunksCompleteAsFutures) {
  std::vector<int> is(64);
  std::iota(is.begin(), is.end(), 0);
  auto chunks = g_pool->map_chunks(where_after, std::vector<int>(64, 5), {.chunksize = 8});
  ASSERT_EQ(chunks.size(), 8u);
  std::size_t seen = 0;
  for (std::size_t i : brine::as_completed(chunks)) {
    EXPECT_EQ(chunks[i].value().size(), 8u);
    ++seen;
  }
  EXPECT_EQ(seen, 8u);
}

TEST(ClusterPoolTest, RemoteExceptionsKeepTheirType) {
  auto f = g_pool->submit(divide, 1.0, 0.0);
  try {
    f.get();
    FAIL() << "no exception";
  } catch (const brine::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "std::domain_error");
    EXPECT_EQ(e.message(), "division by zero");
    EXPECT_EQ(e.where(), "divide");
  }
  EXPECT_EQ(g_pool->submit(divide, 1.0, 4.0).get(), 0.25);
}

TEST(ClusterPoolTest, VoidTasksReportOnlyTheirErrors) {
  EXPECT_NO_THROW(g_pool->submit(must_be_positive, 3).get());
  try {
    g_pool->submit(must_be_positive, -2).get();
    FAIL() << "no exception";
  } catch (const brine::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "std::invalid_argument");
    EXPECT_EQ(e.message(), "not positive: -2");
  }
}

TEST(ClusterPoolTest, CallbacksWaitForAndCancel) {
  auto f = g_pool->submit(where_after, 200);
  std::atomic<int> called{0};
  f.add_done_callback([&] { ++called; });
  EXPECT_FALSE(f.wait_for(std::chrono::milliseconds(10)));
  EXPECT_TRUE(f.wait_for(std::chrono::seconds(20)));
  // Callbacks run right after the future turns ready, on the thread that completed it.
  for (int i = 0; i < 2000 && called.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(called.load(), 1);

  // Fill every worker, then queue one more: it waits in the driver's backlog, so it cancels.
  std::vector<brine::Future<int>> busy;
  for (unsigned i = 0; i < g_pool->size(); ++i) busy.push_back(g_pool->submit(where_after, 300));
  while (g_pool->stats().backlog != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // all on ranks
  auto queued = g_pool->submit(where_after, 1);
  EXPECT_TRUE(queued.cancel());
  EXPECT_THROW(queued.get(), brine::Cancelled);
  for (auto& b : busy) EXPECT_FALSE(b.cancel());  // already on a rank
  for (auto& b : busy) b.get();
}

TEST(ClusterPoolTest, TimeoutIsEnforcedOnTheRank) {
  auto f = g_pool->submit_with({.timeout = std::chrono::milliseconds(100)}, where_after, 5000);
  EXPECT_THROW(f.get(), brine::TimeoutError);
  EXPECT_EQ(g_pool->submit(square, 3.0).get(), 9.0);
}

TEST(ClusterPoolTest, AWorkerKilledOnARemoteRankFailsOnlyItsTask) {
  uint64_t crashed_before = 0;
  for (const auto& r : g_pool->stats().ranks) crashed_before += r.workers_crashed;
  auto f = g_pool->submit(die_by_sigkill);
  try {
    f.get();
    FAIL() << "no exception";
  } catch (const brine::WorkerCrashed& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("brine::WorkerCrashed: on rank ", 0), 0u) << what;
    EXPECT_NE(what.find("host "), std::string::npos) << what;
    EXPECT_NE(what.find("signal 9"), std::string::npos) << what;
    EXPECT_NE(what.find("die_by_sigkill"), std::string::npos) << what;
  }
  uint64_t crashed_after = 0;
  for (const auto& r : g_pool->stats().ranks) crashed_after += r.workers_crashed;
  EXPECT_EQ(crashed_after, crashed_before + 1);
  // The rank replaced its worker: the whole cluster serves again.
  std::vector<double> xs(1000, 2.0);
  const auto ys = g_pool->map(square, xs, {.chunksize = 10});
  for (double y : ys) ASSERT_EQ(y, 4.0);
  std::vector<brine::Future<int>> fs;
  for (unsigned i = 0; i < 2 * g_pool->size(); ++i) fs.push_back(g_pool->submit(where_after, 50));
  std::set<int> ranks;
  for (auto& f2 : fs) ranks.insert(f2.get());
  EXPECT_EQ(ranks.size(), serving_ranks().size());
}

uint64_t buffer_bytes_sent_total() {
  uint64_t n = 0;
  for (const auto& r : g_pool->stats().ranks) n += r.buffer_bytes_sent;
  return n;
}

TEST(ClusterPoolTest, ASharedVectorCrossesToEachHostOnce) {
  constexpr std::size_t kN = std::size_t{1} << 20;  // 8 MiB
  std::map<int, brine::ClusterRankStats> before;
  for (const auto& r : g_pool->stats().ranks) before[r.rank] = r;
  double expected = 0;
  {
    brine::SharedVector<double> v = g_pool->shared_vector<double>(kN);
    for (std::size_t i = 0; i < kN; ++i) v[i] = static_cast<double>(i % 1000);
    expected = std::accumulate(v.begin(), v.end(), 0.0);
    std::vector<brine::Future<double>> fs;
    for (int i = 0; i < 40; ++i) fs.push_back(g_pool->submit(total, v));
    for (auto& f : fs) EXPECT_EQ(f.get(), expected);
    // Every rank that ran some of the 40 tasks holds the 8 MiB. It crossed the network once per
    // host: from the driver to one rank of each host, from that rank to the others there.
    std::map<std::string, uint64_t> from_driver, from_peers, users;
    for (const auto& r : g_pool->stats().ranks) {
      const brine::ClusterRankStats& b = before[r.rank];
      const bool used = r.tasks_sent > b.tasks_sent;
      EXPECT_EQ(r.buffers_cached, used ? 1u : 0u) << "rank " << r.rank;
      if (r.pid == getpid()) {  // rank 0's own pool: a copy in this process, no network
        EXPECT_EQ(r.buffer_bytes_sent - b.buffer_bytes_sent, used ? kN * sizeof(double) : 0u);
        continue;
      }
      from_driver[r.host] += r.buffer_bytes_sent - b.buffer_bytes_sent;
      from_peers[r.host] += r.buffers_from_peers - b.buffers_from_peers;
      users[r.host] += used ? 1 : 0;
    }
    for (const auto& [host, n] : users) {
      EXPECT_EQ(from_driver[host], n > 0 ? kN * sizeof(double) : 0u) << "host " << host;
      EXPECT_EQ(from_peers[host], n > 0 ? n - 1 : 0u) << "host " << host;
    }
    // A slice of it is the same buffer: nothing more is sent.
    const uint64_t sent = buffer_bytes_sent_total();
    EXPECT_EQ(g_pool->submit(total, std::span<const double>(v.data() + 10, 100)).get(),
              std::accumulate(v.begin() + 10, v.begin() + 110, 0.0));
    EXPECT_EQ(buffer_bytes_sent_total(), sent);
  }
  // Its last handle died: every rank is told to drop it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool dropped = false;
  while (!dropped && std::chrono::steady_clock::now() < deadline) {
    dropped = true;
    for (const auto& r : g_pool->stats().ranks) dropped = dropped && r.buffers_cached == 0;
    if (!dropped) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(dropped);
}

std::pair<int, double> where_total_after(std::span<const double> xs, int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return {rank_here(), std::accumulate(xs.begin(), xs.end(), 0.0)};
}
BRINE_REGISTER(where_total_after);

TEST(ClusterPoolTest, RanksOfOneHostPassASharedVectorOnInsteadOfTheDriver) {
  constexpr std::size_t kN = std::size_t{1} << 20;  // 8 MiB
  std::map<int, brine::ClusterRankStats> before;
  for (const auto& r : g_pool->stats().ranks) before[r.rank] = r;
  brine::SharedVector<double> v = g_pool->shared_vector<double>(kN);
  std::fill(v.begin(), v.end(), 0.25);
  // Slow tasks, twice the cluster's workers: every rank takes some.
  std::vector<brine::Future<std::pair<int, double>>> fs;
  for (unsigned i = 0; i < 2 * g_pool->size(); ++i) fs.push_back(g_pool->submit(where_total_after, v, 200));
  std::set<int> ran;
  for (auto& f : fs) {
    const auto [rank, sum] = f.get();
    EXPECT_EQ(sum, 0.25 * kN);
    ran.insert(rank);
  }
  EXPECT_EQ(ran, serving_ranks());
  std::map<std::string, uint64_t> from_driver, from_peers, ranks;
  for (const auto& r : g_pool->stats().ranks) {
    if (r.pid == getpid()) continue;  // rank 0's own pool copies in this process
    from_driver[r.host] += r.buffer_bytes_sent - before[r.rank].buffer_bytes_sent;
    from_peers[r.host] += r.buffers_from_peers - before[r.rank].buffers_from_peers;
    ranks[r.host] += 1;
  }
  for (const auto& [host, n] : ranks) {
    EXPECT_EQ(from_driver[host], kN * sizeof(double)) << "host " << host << ": once from the driver";
    EXPECT_EQ(from_peers[host], n - 1) << "host " << host << ": from a rank there to each other rank";
  }
}

TEST(ClusterPoolTest, LargeArgumentsByValueTravelBesideTheirTask) {
  // 64 KiB: above the reference threshold, so it goes beside the envelope, once per task.
  std::vector<double> xs(8192);
  std::iota(xs.begin(), xs.end(), 0.0);
  uint64_t before = 0;
  for (const auto& r : g_pool->stats().ranks) before += r.buffer_bytes_sent;
  std::vector<brine::Future<std::vector<double>>> fs;
  for (int i = 0; i < 4; ++i) fs.push_back(g_pool->submit(scaled, xs, double(i)));
  for (int i = 0; i < 4; ++i) {
    const std::vector<double> ys = fs[i].get();
    ASSERT_EQ(ys.size(), xs.size());
    for (std::size_t j = 0; j < xs.size(); j += 97) ASSERT_EQ(ys[j], xs[j] * i);
  }
  uint64_t after = 0;
  for (const auto& r : g_pool->stats().ranks) after += r.buffer_bytes_sent;
  EXPECT_EQ(after - before, 4 * xs.size() * sizeof(double));
  EXPECT_EQ(g_pool->submit(total, brine::copy(xs)).get(), std::accumulate(xs.begin(), xs.end(), 0.0));
  uint64_t copied = 0;
  for (const auto& r : g_pool->stats().ranks) copied += r.buffer_bytes_sent;
  EXPECT_EQ(copied, after) << "brine::copy keeps the data inside the envelope";
}

TEST(ClusterPoolTest, RankStatsCountWhatWasSent) {
  const auto before = rank_stats(1);
  std::vector<brine::Future<double>> fs;
  for (int i = 0; i < 20; ++i) fs.push_back(g_pool->submit(square, double(i)));
  for (auto& f : fs) f.get();
  const brine::ClusterStats s = g_pool->stats();
  EXPECT_EQ(s.submitted, s.completed);
  EXPECT_EQ(s.backlog, 0u);
  uint64_t sent = 0, done = 0;
  for (const auto& r : s.ranks) {
    sent += r.tasks_sent;
    done += r.tasks_done;
    EXPECT_EQ(r.in_flight, 0u);
  }
  EXPECT_EQ(sent, done);
  EXPECT_GE(rank_stats(1).bytes_sent, before.bytes_sent);
  EXPECT_GE(rank_stats(1).bytes_received, before.bytes_received);
}

// ---- results by reference (submit_remote) ----------------------------------------------------

constexpr int kRamp = 1 << 20;  // 8 MiB of doubles
constexpr double kRampSum = double(kRamp) * (kRamp - 1) / 2;

uint64_t received_total() {
  uint64_t n = 0;
  for (const auto& r : g_pool->stats().ranks) n += r.bytes_received;
  return n;
}
uint64_t sent_total() {
  uint64_t n = 0;
  for (const auto& r : g_pool->stats().ranks) n += r.bytes_sent;
  return n;
}

// Waits (up to 10 s) until `done` holds of the stats; false if it never did.
template <class F>
bool eventually(F done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done(g_pool->stats())) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Every rank holds what the driver's books say it holds (kept results released, etc.).
bool ranks_agree(const brine::ClusterStats& s) {
  for (const auto& r : s.ranks) {
    if (r.held_reported != r.buffers_cached + r.results_held) return false;
  }
  return true;
}

TEST(ClusterRemoteTest, AKeptResultStaysOnItsRankUntilGetFetchesIt) {
  ASSERT_TRUE(eventually(ranks_agree));
  const uint64_t received = received_total();
  brine::RemoteRef<std::vector<double>> ref = g_pool->submit_remote(ramp, kRamp, 0);
  const int holder = ref.rank();  // waits for the task
  EXPECT_TRUE(serving_ranks().count(holder));
  EXPECT_GT(ref.bytes(), kRamp * sizeof(double));
  // Only the notice came back, not the 8 MiB.
  EXPECT_LT(received_total() - received, 4096u) << "the kept result crossed the network";
  EXPECT_EQ(rank_stats(holder).results_held, 1u);
  EXPECT_TRUE(eventually([&](const brine::ClusterStats& s) { return ranks_agree(s); }));

  const uint64_t fetched_before = rank_stats(holder).results_fetched;
  const uint64_t before_get = received_total();
  const std::vector<double> v = ref.get();
  ASSERT_EQ(v.size(), static_cast<std::size_t>(kRamp));
  for (int i = 0; i < kRamp; i += 4099) ASSERT_EQ(v[i], double(i));
  EXPECT_GE(received_total() - before_get, kRamp * sizeof(double));
  EXPECT_EQ(rank_stats(holder).results_fetched, fetched_before + 1);
  // The value stays there: it can be fetched again, and by several threads at once.
  auto f1 = ref.fetch();
  auto f2 = ref.fetch();
  EXPECT_EQ(f1.get().back(), kRamp - 1.0);
  EXPECT_EQ(f2.get().front(), 0.0);
  EXPECT_EQ(rank_stats(holder).results_held, 1u);
}

TEST(ClusterRemoteTest, ATaskTakingAKeptResultRunsOnItsRankAndReadsItInPlace) {
  brine::RemoteRef<std::vector<double>> ref = g_pool->submit_remote(ramp, kRamp, 0);
  const int holder = ref.rank();
  const brine::ClusterRankStats before = rank_stats(holder);
  const uint64_t sent = sent_total(), buffers = buffer_bytes_sent_total(), received = received_total();
  const uint64_t staged = g_pool->stats().results_staged;

  const auto [rank, sum] = g_pool->submit(where_total, ref).get();
  EXPECT_EQ(rank, holder) << "the task did not run where its argument is kept";
  EXPECT_EQ(sum, kRampSum);
  // std::vector<T> and SharedVector<T> parameters read it the same way.
  EXPECT_EQ(g_pool->submit(total_vector, ref).get(), kRampSum);
  EXPECT_EQ(g_pool->submit(total_shared, ref).get(), kRampSum);

  const brine::ClusterRankStats after = rank_stats(holder);
  EXPECT_EQ(after.inputs_in_place, before.inputs_in_place + 3);
  EXPECT_EQ(after.tasks_sent, before.tasks_sent + 3);
  EXPECT_EQ(buffer_bytes_sent_total(), buffers) << "no buffer was shipped for the argument";
  EXPECT_LT(sent_total() - sent, 3 * 4096u) << "only the three small envelopes went out";
  EXPECT_LT(received_total() - received, 3 * 4096u) << "only the three small results came back";
  EXPECT_EQ(g_pool->stats().results_staged, staged);
}

TEST(ClusterRemoteTest, KeptResultsChainOnTheirRank) {
  // The second task is submitted before the first is done: it waits for its argument.
  brine::RemoteRef<std::vector<double>> a = g_pool->submit_remote(ramp, kRamp, 200);
  brine::RemoteRef<std::vector<double>> b = g_pool->submit_remote(scaled_view, a, 2.0);
  EXPECT_FALSE(b.done());
  EXPECT_EQ(b.rank(), a.rank());
  const uint64_t received = received_total();
  const auto [rank, sum] = g_pool->submit(where_total, b).get();
  EXPECT_EQ(rank, a.rank());
  EXPECT_EQ(sum, 2 * kRampSum);
  EXPECT_LT(received_total() - received, 4096u);
  const std::vector<double> v = b.get();
  EXPECT_EQ(v[12345], 2 * 12345.0);
}

TEST(ClusterRemoteTest, AnArgumentKeptElsewhereTravelsToTheTaskOnce) {
  // Two results made at the same time land on different ranks (each has 2 free workers).
  brine::RemoteRef<std::vector<double>> a = g_pool->submit_remote(ramp, kRamp, 300);
  brine::RemoteRef<std::vector<double>> b = g_pool->submit_remote(ramp, kRamp / 2, 300);
  ASSERT_NE(a.rank(), b.rank());
  const brine::ClusterRankStats home = rank_stats(a.rank());
  const uint64_t buffers = home.buffer_bytes_sent, from_peers = home.buffers_from_peers;
  const uint64_t staged = g_pool->stats().results_staged;
  // Two serving ranks of one host pass the value between them; otherwise it goes via the driver.
  const bool same_host = home.host == rank_stats(b.rank()).host && home.pid != getpid() && rank_stats(b.rank()).pid != getpid();
  const double expected = [] {
    double s = 0;
    for (int i = 0; i < kRamp / 2; ++i) s += double(i) * i;
    return s;
  }();
  for (int i = 0; i < 3; ++i) {
    // Runs where the larger argument is; the smaller is copied there once (from its rank on the
    // same host, else to the driver and on), then cached there.
    const auto [rank, dot] = g_pool->submit(where_dot, a, b).get();
    EXPECT_EQ(rank, a.rank());
    EXPECT_EQ(dot, expected);
  }
  if (same_host) {
    EXPECT_EQ(g_pool->stats().results_staged, staged);
    EXPECT_EQ(rank_stats(a.rank()).buffers_from_peers, from_peers + 1);
    EXPECT_EQ(rank_stats(a.rank()).buffer_bytes_sent, buffers);
  } else {
    EXPECT_EQ(g_pool->stats().results_staged, staged + 1);
    EXPECT_EQ(rank_stats(a.rank()).buffer_bytes_sent - buffers, (kRamp / 2) * sizeof(double));
  }
  EXPECT_EQ(rank_stats(a.rank()).inputs_in_place >= 3, true);
}

TEST(ClusterRemoteTest, DroppedHandlesAreFreedOnTheirRank) {
  ASSERT_TRUE(eventually(ranks_agree));
  int holder = -1;
  uint64_t held_before = 0;
  {
    brine::RemoteRef<std::vector<double>> ref = g_pool->submit_remote(ramp, 1000, 0);
    holder = ref.rank();
    held_before = rank_stats(holder).held_reported;
    brine::RemoteRef<std::vector<double>> copy = ref;  // copies share the value
    EXPECT_EQ(rank_stats(holder).results_held, 1u);
    EXPECT_TRUE(eventually([&](const brine::ClusterStats& s) { return ranks_agree(s); }));
    EXPECT_EQ(copy.get().size(), 1000u);
  }
  EXPECT_TRUE(eventually([&](const brine::ClusterStats&) { return rank_stats(holder).results_held == 0; }));
  EXPECT_TRUE(eventually(ranks_agree)) << "the rank still holds the value";
  EXPECT_EQ(rank_stats(holder).held_reported + 1, held_before);
}

TEST(ClusterRemoteTest, AFailedKeptTaskFailsItsGetAndTheTasksThatTakeIt) {
  brine::RemoteRef<std::vector<double>> ref = g_pool->submit_remote(broken_ramp, 7);
  try {
    ref.get();
    FAIL() << "no exception";
  } catch (const brine::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "std::length_error");
    EXPECT_EQ(e.message(), "no ramp of 7");
  }
  EXPECT_THROW(ref.rank(), brine::RemoteError);
  EXPECT_THROW(g_pool->submit(where_total, ref).get(), brine::RemoteError);
  for (const auto& r : g_pool->stats().ranks) EXPECT_EQ(r.results_held, 0u) << "rank " << r.rank;
}

TEST(ClusterRemoteTest, AnyResultCanBeKeptAndFetched) {
  brine::RemoteRef<std::string> ref = g_pool->submit_remote(label, 3);
  const std::string s = ref.get();
  EXPECT_EQ(s, "item-3@" + std::to_string(ref.rank()));
}

TEST(ClusterRemoteTest, EmptyAndForeignHandlesAreRefusedClearly) {
  brine::RemoteRef<std::vector<double>> empty;
  EXPECT_FALSE(empty.valid());
  try {
    empty.get();
    FAIL() << "no exception";
  } catch (const brine::BadRemoteRef& e) {
    EXPECT_NE(std::string(e.what()).find("submit_remote"), std::string::npos) << e.what();
  }
  EXPECT_THROW(g_pool->submit(where_total, empty), brine::BadRemoteRef);
  EXPECT_THROW(g_pool->submit_remote(scaled_view, empty, 1.0), brine::BadRemoteRef);
  // A handle this pool did not make (as one from another ClusterPool would be).
  brine::RemoteRef<std::vector<double>> foreign(std::make_shared<brine::detail::RemoteResult>(sizeof(double)));
  try {
    g_pool->submit(where_total, foreign);
    FAIL() << "no exception";
  } catch (const brine::BadRemoteRef& e) {
    EXPECT_NE(std::string(e.what()).find("another ClusterPool"), std::string::npos) << e.what();
  }
  EXPECT_THROW(foreign.get(), brine::PoolClosed);
}

// The worker's side of a cluster task, in this process: a corrupt or truncated envelope from
// the network becomes an error result (DecodeError), never a crash.
TEST(ClusterRunTest, EnvelopesFromTheNetworkAreVerified) {
  auto error_of = [](const std::vector<uint8_t>& result) -> std::string {
    const brine::fb::Result& r = brine::verify_result(std::as_bytes(std::span(result)));
    if (r.error() == nullptr) return "";
    EXPECT_EQ(r.error()->code(), static_cast<int32_t>(brine::ErrorCode::kDecode));
    return r.error()->message()->str();
  };
  std::vector<uint8_t> garbage(256, 0xAB);
  EXPECT_NE(error_of(brine::detail::cluster_run(garbage, {}, {})), "");
  EXPECT_NE(error_of(brine::detail::cluster_run({}, {}, {})), "");
  // A real envelope, then cut short or referencing a buffer that did not come with it.
  const brine::Bytes call = brine::dumps(1.0);  // not a task: wrong file identifier
  EXPECT_NE(error_of(brine::detail::cluster_run(std::span(reinterpret_cast<const uint8_t*>(call.data()), call.size()), {}, {})), "");
  EXPECT_NE(error_of(brine::detail::cluster_run(garbage, {1, 2}, {})), "");
}

}  // namespace

int main(int argc, char** argv) {
  // Ranks >= 1 serve inside this constructor and exit when rank 0 shuts the cluster down.
  if (const char* d = std::getenv("BRINE_TEST_DRIVER_WORKERS")) g_driver_workers = static_cast<unsigned>(std::atoi(d));
  brine::ClusterPool pool({.pool = {.workers = 2}, .driver_workers = g_driver_workers}, &argc, &argv);
  g_pool = &pool;
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  pool.shutdown();
  EXPECT_THROW(pool.submit(square, 1.0), brine::PoolClosed);
  return rc;
}
