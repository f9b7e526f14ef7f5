// Native tasks the Python tests call with pool.submit_native (built by python/CMakeLists.txt
// with brine_add_native, loaded with brine.load_native).
#include <brine/python/native.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// Where the worker found the data: equal addresses in two tasks mean no copy was made.
uint64_t address_of(std::span<const double> xs) { return reinterpret_cast<uint64_t>(xs.data()); }

}  // namespace

double total(std::span<const double> xs) { return std::accumulate(xs.begin(), xs.end(), 0.0); }
BRINE_PYTHON_NATIVE(total);

int64_t count_above(std::span<const int32_t> xs, int32_t limit) {
  return static_cast<int64_t>(std::count_if(xs.begin(), xs.end(), [&](int32_t x) { return x > limit; }));
}
BRINE_PYTHON_NATIVE(count_above);

brine::SharedVector<double> ramp(int64_t n) {
  auto out = brine::this_worker::shared_vector<double>(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[static_cast<std::size_t>(i)] = static_cast<double>(i);
  return out;
}
BRINE_PYTHON_NATIVE(ramp);

std::vector<float> halves(std::span<const float> xs) {
  std::vector<float> out(xs.begin(), xs.end());
  for (float& x : out) x /= 2;
  return out;
}
BRINE_PYTHON_NATIVE(halves);

std::string greet(std::string name) {
  if (name.empty()) throw std::invalid_argument("greet: empty name");
  return "hello, " + name;
}
BRINE_PYTHON_NATIVE(greet);

uint64_t where(std::span<const double> xs) { return address_of(xs); }
BRINE_PYTHON_NATIVE(where);
