// my_tasks.cc: C++ functions that Python calls by name, on brine's workers.
#include <brine/python/native.h>

#include <cmath>
#include <numeric>
#include <span>

double total(std::span<const double> xs) { return std::accumulate(xs.begin(), xs.end(), 0.0); }
BRINE_PYTHON_NATIVE(total);

brine::SharedVector<double> roots(std::span<const double> xs) {  // returned through shared memory
  auto out = brine::this_worker::shared_vector<double>(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) out[i] = std::sqrt(xs[i]);
  return out;
}
BRINE_PYTHON_NATIVE(roots);
