// Reduce hooks through real workers: user types, nesting, optionals, and per-pool overrides.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "brine/ipc/pool.h"

namespace reducer_pool_test {

struct Celsius {
  double value = 0;
  bool operator==(const Celsius&) const = default;
};

struct Station {
  std::string name;
  std::vector<Celsius> history;
  std::optional<Celsius> now;
  std::map<std::string, std::vector<int>> tags;
  bool operator==(const Station&) const = default;
};

struct Network {
  std::vector<Station> stations;
  std::optional<Station> hub;
  bool operator==(const Network&) const = default;
};

// Echoes the network with one more reading per station, so every member crosses both ways.
Network warm(const Network& n, double by) {
  Network out = n;
  for (auto& s : out.stations) s.history.push_back(Celsius{s.history.empty() ? by : s.history.back().value + by});
  return out;
}
BRINE_REGISTER(warm);

double raw(const Celsius& c) { return c.value; }
BRINE_REGISTER(raw);

}  // namespace reducer_pool_test

template <>
struct brine::Reducer<reducer_pool_test::Celsius> {
  using As = double;
  static double reduce(const reducer_pool_test::Celsius& c) { return c.value; }
  static reducer_pool_test::Celsius rebuild(double v) { return {v}; }
};
template <>
struct brine::Reducer<reducer_pool_test::Station>
    : brine::Fields<&reducer_pool_test::Station::name, &reducer_pool_test::Station::history,
                    &reducer_pool_test::Station::now, &reducer_pool_test::Station::tags> {};
template <>
struct brine::Reducer<reducer_pool_test::Network>
    : brine::Fields<&reducer_pool_test::Network::stations, &reducer_pool_test::Network::hub> {};

namespace {

using namespace reducer_pool_test;

TEST(ReducerPoolTest, NestedUserTypesWithOptionalsRoundTripThroughAWorker) {
  brine::Pool pool({.workers = 1});
  Network n;
  n.stations.push_back({"north", {{1.5}, {2.5}}, Celsius{3}, {{"a", {1, 2}}}});
  n.stations.push_back({"south", {}, std::nullopt, {}});
  n.hub = n.stations[0];
  Network expected = warm(n, 0.5);
  EXPECT_EQ(pool.submit(warm, n, 0.5).get(), expected);
  Network empty;
  EXPECT_EQ(pool.submit(warm, empty, 1.0).get(), empty);
}

TEST(ReducerPoolTest, TwoPoolsTreatOneTypeDifferently) {
  // The second pool ships Celsius as Fahrenheit: its own hooks, in parent and workers alike.
  brine::ReducerTable fahrenheit;
  fahrenheit.add<Celsius, double>([](const Celsius& c) { return c.value * 9 / 5 + 32; },
                                  [](const double& f) { return Celsius{f}; });
  brine::Pool plain({.workers = 1});
  brine::Pool custom({.workers = 1, .reducers = &fahrenheit});
  EXPECT_EQ(plain.submit(raw, Celsius{100}).get(), 100.0);
  EXPECT_EQ(custom.submit(raw, Celsius{100}).get(), 212.0);
}

}  // namespace
