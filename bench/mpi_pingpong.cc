// Open MPI's 8-byte ping-pong between two ranks, printed as Google Benchmark
// JSON (through nlohmann/json) so that the report reads it like the other suites.
//   mpirun -np 2 --bind-to core brine_mpi_pingpong [--iterations N]
#include <mpi.h>
#include <sched.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

constexpr int kTag = 7;

long iterations_from(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--iterations") == 0) return std::atol(argv[i + 1]);
  }
  return 200'000;
}

// Rank 0 sends and waits for the echo; rank 1 echoes.
void ping_pong(int rank, long rounds) {
  std::uint64_t message = 0;
  for (long i = 0; i < rounds; ++i) {
    if (rank == 0) {
      ++message;
      MPI_Send(&message, 1, MPI_UINT64_T, 1, kTag, MPI_COMM_WORLD);
      MPI_Recv(&message, 1, MPI_UINT64_T, 1, kTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else {
      MPI_Recv(&message, 1, MPI_UINT64_T, 0, kTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Send(&message, 1, MPI_UINT64_T, 0, kTag, MPI_COMM_WORLD);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  int size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size != 2) {
    if (rank == 0) std::fprintf(stderr, "brine_mpi_pingpong needs exactly 2 ranks, got %d\n", size);
    MPI_Finalize();
    return 1;
  }
  const long rounds = iterations_from(argc, argv);
  int cpus[2] = {0, 0};
  int my_cpu = sched_getcpu();
  MPI_Gather(&my_cpu, 1, MPI_INT, cpus, 1, MPI_INT, 0, MPI_COMM_WORLD);

  ping_pong(rank, rounds / 10 + 1);
  MPI_Barrier(MPI_COMM_WORLD);
  // The mean over all rounds, and the median over batches of kBatch rounds, as the transport
  // suite reports (a preempted rank moves the mean far more than the typical round trip).
  constexpr long kBatch = 32;
  std::vector<double> batch_us;
  const double start = MPI_Wtime();
  for (long done = 0; done < rounds; done += kBatch) {
    const double t = MPI_Wtime();
    ping_pong(rank, kBatch);
    batch_us.push_back((MPI_Wtime() - t) * 1e6 / kBatch);
  }
  const double microseconds = (MPI_Wtime() - start) * 1e6 / static_cast<double>(batch_us.size() * kBatch);
  std::nth_element(batch_us.begin(), batch_us.begin() + static_cast<std::ptrdiff_t>(batch_us.size() / 2), batch_us.end());
  const double median_ns = batch_us[batch_us.size() / 2] * 1e3;

  if (rank == 0) {
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(version, &length);
    const char* placement = cpus[0] == cpus[1] ? "same_cpu" : "cross_cpu";
    const nlohmann::json run = {
        {"context",
         {{"executable", "brine_mpi_pingpong"}, {"mpi_library", std::string(version, std::strcspn(version, "\n,"))}}},
        {"benchmarks",
         {{{"name", std::string("BM_Transport/mpi/") + placement}, {"run_type", "iteration"}, {"iterations", rounds},
           {"real_time", microseconds}, {"cpu_time", microseconds}, {"time_unit", "us"}, {"median_ns", median_ns},
           {"label", "cpus " + std::to_string(cpus[0]) + "," + std::to_string(cpus[1])}}}}};
    std::printf("%s\n", run.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  }
  MPI_Finalize();
  return 0;
}
