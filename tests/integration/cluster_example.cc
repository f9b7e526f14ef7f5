#include <brine/mpi/cluster.h>

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <span>
#include <vector>

double total(std::span<const double> xs) { return std::accumulate(xs.begin(), xs.end(), 0.0); }
BRINE_REGISTER(total);

double square(double x) { return x * x; }
BRINE_REGISTER(square);

int main(int argc, char** argv) {
  // Rank 0 goes on below; every other rank serves tasks here with a pool of 2 workers, and
  // exits when rank 0 is done.
  brine::ClusterPool pool({.pool = {.workers = 2}}, &argc, &argv);

  std::vector<double> xs(1000);
  std::iota(xs.begin(), xs.end(), 0.0);
  std::vector<double> ys = pool.map(square, xs);  // chunks go to the first free workers, on any rank

  // 8 MiB crosses the network once per rank that uses it, then stays cached there.
  brine::SharedVector<double> big = pool.shared_vector<double>(1 << 20);
  std::fill(big.begin(), big.end(), 0.5);
  std::vector<brine::Future<double>> sums;
  for (int i = 0; i < 10; ++i) sums.push_back(pool.submit(total, big));
  double s = 0;
  for (auto& f : sums) s += f.get();  // get() waits, then returns the value or rethrows the task's error

  std::printf("%.0f %.0f on %u workers of %d ranks\n", ys[999], s, pool.size(), pool.rank_count());
  return ys[999] == 998001.0 && s == 5242880.0 ? 0 : 1;
}
