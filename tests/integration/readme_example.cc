#include <brine/brine.h>

#include <cstdio>
#include <numeric>
#include <span>
#include <string>
#include <vector>

// 1. Register the functions workers may run, by name.
double total(std::span<const double> xs) { return std::accumulate(xs.begin(), xs.end(), 0.0); }
BRINE_REGISTER(total);

double affine(double a, double b, double x) { return a * x + b; }
BRINE_REGISTER(affine);

// 2. A user type travels through its reduce hook: list the fields.
struct Reading {
  std::string sensor;
  std::vector<double> samples;
};
template <>
struct brine::Reducer<Reading> : brine::Fields<&Reading::sensor, &Reading::samples> {};

std::string describe(const Reading& r) { return r.sensor + ": " + std::to_string(r.samples.size()) + " samples"; }
BRINE_REGISTER(describe);

int main() {
  brine::run_if_worker();  // only needed for StartMethod::kSpawn; harmless otherwise
  brine::Pool pool({.workers = 2});

  // Small arguments are copied into the task; this 8 MiB vector goes to the shared arena once.
  std::vector<double> xs(1 << 20, 0.5);
  brine::Future<double> sum = pool.submit(total, xs);

  // Data written straight into shared memory is never copied, however often it is sent.
  brine::SharedVector<double> shared = pool.shared_vector<double>(1 << 20);
  std::iota(shared.begin(), shared.end(), 0.0);
  double s2 = pool.submit(total, shared).get();

  // Closures: bound arguments, and lambdas with trivially copyable captures.
  std::vector<double> line = pool.map(brine::partial(affine, 2.0, 1.0), std::vector<double>{1, 2, 3});
  const double k = 10;
  double scaled = pool.submit([k](double x) { return k * x; }, 4.2).get();

  std::string text = pool.submit(describe, Reading{"probe-7", {1, 2, 3}}).get();
  const double s1 = sum.get();  // get() waits, then returns the value or rethrows the task's error
  std::printf("%.1f %.1f %.1f %.1f %s\n", s1, s2, line[2], scaled, text.c_str());
  return s1 == 524288.0 && line[2] == 7.0 && scaled == 42.0 && text == "probe-7: 3 samples" ? 0 : 1;
}
