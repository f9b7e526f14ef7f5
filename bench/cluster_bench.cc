// brine::ClusterPool against raw MPI, in one run:
//   mpirun -np 3 [--mca btl self,vader|self,tcp] brine_cluster_bench [--tasks N] [--array-mib M] [--result-mib R] [--rounds R] [--json FILE]
//
// Rows (one line each on stdout, then one JSON object, as bench/mpi_pingpong does):
//   BM_Cluster/mpi_pingpong      8-byte MPI_Send/MPI_Recv ping-pong, rank 0 <-> 1, this job's transport
//   BM_Cluster/round_trip        pool.submit(noop).get() from rank 0 to a worker of another rank
//   BM_Cluster/map_small         pool.map(square, N doubles): tasks/s
//   BM_Cluster/map_uneven        600 tasks sleeping 0..4 ms (fixed seed): wall time against the ideal
//   BM_Cluster/array_ship        an M MiB SharedVector taken by 100 tasks that do not read it: shipping
//   BM_Cluster/array_sum         the same array summed by 100 tasks: time and bytes sent per rank (all)
//   BM_Cluster/remote_result     an R MiB result kept on a serving rank (submit_remote) summed by a
//                                task there, in place, against brought to the driver (get) and summed
//                                there: time and bytes on the network for each
// Workers: 2 per rank, rank 0 included (ClusterOptions::driver_workers = 2): 3 ranks x 2 workers.
// bench/python_mpi4py.py runs the same map workloads on mpi4py.futures.MPIPoolExecutor.
#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "brine/mpi/cluster.h"

namespace {

int noop() { return 0; }
BRINE_REGISTER(noop);

double square(double x) { return x * x; }
BRINE_REGISTER(square);

int nap_us(int us) {
  std::this_thread::sleep_for(std::chrono::microseconds(us));
  return us;
}
BRINE_REGISTER(nap_us);

double total(std::span<const double> xs) { return std::accumulate(xs.begin(), xs.end(), 0.0); }
BRINE_REGISTER(total);

std::size_t count(std::span<const double> xs) { return xs.size(); }  // takes the array, reads nothing
BRINE_REGISTER(count);

std::vector<double> ones_after(long n, int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return std::vector<double>(static_cast<std::size_t>(n), 1.0);
}
BRINE_REGISTER(ones_after);

// Bytes that crossed between rank 0 and the serving ranks, both ways.
uint64_t network_bytes(const brine::ClusterPool& pool) {
  uint64_t n = 0;
  for (const auto& r : pool.stats().ranks) {
    if (r.pid != getpid()) n += r.bytes_sent + r.bytes_received;
  }
  return n;
}

const char* text_option(int argc, char** argv, const char* name) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return nullptr;
}

long option(int argc, char** argv, const char* name, long fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return std::atol(argv[i + 1]);
  }
  return fallback;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Median of batches of 32 round trips, in microseconds (as bench/mpi_pingpong.cc reports).
double raw_pingpong_us(int rank, long rounds) {
  std::uint64_t message = 0;
  auto round = [&](long n) {
    for (long i = 0; i < n; ++i) {
      if (rank == 0) {
        ++message;
        MPI_Send(&message, 1, MPI_UINT64_T, 1, 7, MPI_COMM_WORLD);
        MPI_Recv(&message, 1, MPI_UINT64_T, 1, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      } else if (rank == 1) {
        MPI_Recv(&message, 1, MPI_UINT64_T, 0, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Send(&message, 1, MPI_UINT64_T, 0, 7, MPI_COMM_WORLD);
      }
    }
  };
  round(rounds / 10 + 1);
  std::vector<double> batches;
  for (long done = 0; done < rounds; done += 32) {
    const double t = MPI_Wtime();
    round(32);
    batches.push_back((MPI_Wtime() - t) * 1e6 / 32);
  }
  std::nth_element(batches.begin(), batches.begin() + static_cast<std::ptrdiff_t>(batches.size() / 2), batches.end());
  return batches[batches.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  brine::run_if_worker();
  const long tasks = option(argc, argv, "--tasks", 100'000);
  const long array_mib = option(argc, argv, "--array-mib", 1024);
  const long result_mib = option(argc, argv, "--result-mib", 64);
  const long rounds = option(argc, argv, "--rounds", 2000);
  const char* json_path = text_option(argc, argv, "--json");  // also write the JSON there

  // The raw ping-pong first, on MPI_COMM_WORLD, before the cluster's service loops exist.
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const double pingpong_us = raw_pingpong_us(rank, 20'000);
  MPI_Barrier(MPI_COMM_WORLD);

  brine::ClusterOptions options;
  options.pool.workers = 2;
  options.pool.arena_bytes = (std::size_t(array_mib) << 20) + (std::size_t{512} << 20);
  options.driver_workers = 2;
  brine::ClusterPool pool(options);  // ranks >= 1 serve here until rank 0 is done

  nlohmann::json rows = nlohmann::json::array();
  auto row = [&](const std::string& name, double value, const char* unit, nlohmann::json extra) {
    extra["name"] = "BM_Cluster/" + name;
    extra["value"] = value;
    extra["unit"] = unit;
    rows.push_back(extra);
  };
  std::printf("%-22s %12.2f us   (median of batches of 32)\n", "mpi_pingpong", pingpong_us);
  row("mpi_pingpong", pingpong_us, "us", {});

  // Round trip to a worker of another rank: rank 0's own pool is full with a long task per
  // worker, so every noop goes over MPI.
  {
    std::vector<brine::Future<int>> hold;
    for (int i = 0; i < 2; ++i) hold.push_back(pool.submit(nap_us, 3'000'000));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (int i = 0; i < 50; ++i) pool.submit(noop).get();
    std::vector<double> us;
    const auto loop = std::chrono::steady_clock::now();
    for (long i = 0; i < rounds && seconds_since(loop) < 2.5; ++i) {
      const auto t = std::chrono::steady_clock::now();
      pool.submit(noop).get();
      us.push_back(seconds_since(t) * 1e6);
    }
    std::sort(us.begin(), us.end());
    const double median = us[us.size() / 2];
    std::printf("%-22s %12.2f us   (median of %zu; p90 %.1f us) = %.0fx the raw ping-pong\n", "round_trip", median, us.size(),
                us[us.size() * 9 / 10], median / pingpong_us);
    row("round_trip", median, "us", {{"p90_us", us[us.size() * 9 / 10]}, {"ratio_to_pingpong", median / pingpong_us}});
    for (auto& f : hold) f.get();  // rank 0's workers are free again for the rows below
  }

  {
    std::vector<double> xs(static_cast<std::size_t>(tasks));
    std::iota(xs.begin(), xs.end(), 0.0);
    pool.map(square, std::vector<double>(xs.begin(), xs.begin() + 1000));  // warm-up
    // The median of 5 maps: one takes milliseconds, so a single one is at the mercy of a preemption.
    std::vector<double> times;
    for (int rep = 0; rep < 5; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto ys = pool.map(square, xs);
      times.push_back(seconds_since(t0));
      if (ys.back() != xs.back() * xs.back()) std::fprintf(stderr, "map_small: wrong result\n");
    }
    std::sort(times.begin(), times.end());
    const double s = times[2];
    std::printf("%-22s %12.0f tasks/s (%ld tasks in %.3f s, default chunks, median of 5)\n", "map_small", double(tasks) / s, tasks, s);
    row("map_small", double(tasks) / s, "tasks/s", {{"tasks", tasks}, {"seconds", s}});

    auto t = std::chrono::steady_clock::now();
    const auto ys1 = pool.map(square, std::vector<double>(xs.begin(), xs.begin() + 10'000), {.chunksize = 1});
    const double s1 = seconds_since(t);
    std::printf("%-22s %12.0f tasks/s (10000 tasks, chunksize 1)\n", "map_small_chunksize_1", 10'000 / s1);
    row("map_small_chunksize_1", 10'000 / s1, "tasks/s", {{"tasks", 10'000}, {"seconds", s1}});
  }

  {
    std::mt19937 rng(15);
    std::uniform_int_distribution<int> d(0, 4000);
    std::vector<int> us(600);
    for (int& u : us) u = d(rng);
    const double ideal = std::accumulate(us.begin(), us.end(), 0.0) * 1e-6 / pool.size();
    const auto t = std::chrono::steady_clock::now();
    pool.map(nap_us, us, {.chunksize = 1});
    const double s = seconds_since(t);
    std::printf("%-22s %12.3f s    (ideal %.3f s on %u workers: %.2fx)\n", "map_uneven", s, ideal, pool.size(), s / ideal);
    row("map_uneven", s, "s", {{"ideal_s", ideal}, {"workers", pool.size()}});
  }

  if (array_mib > 0) {
    const std::size_t n = (std::size_t(array_mib) << 20) / sizeof(double);
    brine::SharedVector<double> big = pool.shared_vector<double>(n);
    std::fill(big.begin(), big.end(), 1.0);
    auto t_local = std::chrono::steady_clock::now();
    const double local_sum = total(big);
    const double local_s = seconds_since(t_local);
    std::vector<uint64_t> before;
    for (const auto& r : pool.stats().ranks) before.push_back(r.buffer_bytes_sent);
    // First 100 tasks that take the fresh array without reading it: the cost of shipping it
    // (once per rank), then 100 that sum it where it is cached.
    auto t = std::chrono::steady_clock::now();
    std::vector<brine::Future<std::size_t>> cs;
    for (int i = 0; i < 100; ++i) cs.push_back(pool.submit(count, big));
    for (auto& c : cs) {
      if (c.get() != n) std::fprintf(stderr, "array_ship: wrong size\n");
    }
    const double ship_s = seconds_since(t);
    std::printf("%-22s %12.3f s    (%ld MiB array to every rank, 100 tasks that do not read it)\n", "array_ship", ship_s, array_mib);
    row("array_ship", ship_s, "s", {{"array_mib", array_mib}});
    t = std::chrono::steady_clock::now();
    std::vector<brine::Future<double>> fs;
    for (int i = 0; i < 100; ++i) fs.push_back(pool.submit(total, big));
    double sum = 0;
    for (auto& f : fs) sum += f.get();
    const double s = seconds_since(t);
    if (sum != 100.0 * local_sum) std::fprintf(stderr, "array_once: wrong sum\n");
    // Per rank: the buffer bytes the driver sent it (to its own rank 0: a copy into the local
    // pool, no network). Per host: what crossed MPI to that host's serving ranks, whose ranks
    // pass the array to each other (ClusterOptions::share_on_host).
    nlohmann::json per_rank = nlohmann::json::object(), per_host = nlohmann::json::object();
    std::string text;
    const auto after = pool.stats().ranks;
    for (std::size_t i = 0; i < after.size(); ++i) {
      const uint64_t sent = after[i].buffer_bytes_sent - before[i];
      per_rank[std::to_string(after[i].rank)] = sent;
      if (after[i].rank != 0) per_host[after[i].host] = per_host.value(after[i].host, uint64_t{0}) + sent;
      text += " rank " + std::to_string(after[i].rank) + ": " + std::to_string(sent >> 20) + " MiB";
    }
    std::printf("%-22s %12.3f s    (%ld MiB array, 100 sums; one sum in-process %.3f s; sent:%s)\n", "array_sum", s,
                array_mib, local_s, text.c_str());
    row("array_sum", s, "s",
        {{"array_mib", array_mib}, {"local_sum_s", local_s}, {"buffer_bytes_sent_per_rank", per_rank},
         {"buffer_bytes_sent_per_host", per_host}});
  }

  if (result_mib > 0) {
    const long n = (result_mib << 20) / long(sizeof(double));
    // Three results made at once land on the three ranks; take one kept on a serving rank.
    std::vector<brine::RemoteRef<std::vector<double>>> refs;
    for (int i = 0; i < 3; ++i) refs.push_back(pool.submit_remote(ones_after, n, 50));
    brine::RemoteRef<std::vector<double>> kept;
    for (auto& r : refs) {
      if (r.rank() != 0 && !kept.valid()) kept = r;
    }
    // By reference: the sum runs where the result is kept, reading it in place.
    uint64_t before = network_bytes(pool);
    auto t = std::chrono::steady_clock::now();
    const double by_ref = pool.submit(total, kept).get();
    const double ref_s = seconds_since(t);
    const uint64_t ref_bytes = network_bytes(pool) - before;
    // By value, as submit returns it: the result comes to the driver, which sums it.
    before = network_bytes(pool);
    t = std::chrono::steady_clock::now();
    const double by_value = total(kept.get());
    const double value_s = seconds_since(t);
    const uint64_t value_bytes = network_bytes(pool) - before;
    if (by_value != double(n) || by_ref != double(n)) std::fprintf(stderr, "remote_result: wrong sum\n");
    std::printf("%-22s %12.3f s    (%ld MiB result of rank %d summed there: %llu bytes on the network; brought to "
                "the driver and summed there: %.3f s, %llu bytes)\n",
                "remote_result", ref_s, result_mib, kept.rank(), static_cast<unsigned long long>(ref_bytes), value_s,
                static_cast<unsigned long long>(value_bytes));
    row("remote_result", ref_s, "s",
        {{"result_mib", result_mib}, {"network_bytes", ref_bytes}, {"by_value_s", value_s}, {"by_value_network_bytes", value_bytes}});
  }

  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(version, &length);
  const nlohmann::json out = {{"context", {{"executable", "brine_cluster_bench"},
                                           {"mpi_library", std::string(version, std::strcspn(version, "\n,"))},
                                           {"workers", pool.size()},
                                           {"ranks", pool.rank_count()}}},
                              {"rows", rows}};
  pool.shutdown();
  std::printf("%s\n", out.dump(2).c_str());
  if (json_path != nullptr) {
    if (FILE* f = std::fopen(json_path, "w")) {
      std::fprintf(f, "%s\n", out.dump(2).c_str());
      std::fclose(f);
    }
  }
  MPI_Finalize();
  return 0;
}
