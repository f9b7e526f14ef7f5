// Every way of shipping a callable with state, run in real worker processes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <numeric>
#include <string>

#include "brine/ipc/pool.h"

namespace closure_test {

double affine(double a, double b, double x) { return a * x + b; }
BRINE_REGISTER(affine);

std::string tag(const std::string& prefix, int x) { return prefix + std::to_string(x); }
BRINE_REGISTER(tag);

struct Threshold {
  double limit = 0;
  std::string label;
  std::string operator()(double x) const { return x > limit ? label : std::string(); }
};
BRINE_REGISTER_FUNCTOR(Threshold);

}  // namespace closure_test

template <>
struct brine::Reducer<closure_test::Threshold>
    : brine::Fields<&closure_test::Threshold::limit, &closure_test::Threshold::label> {};

namespace {

using namespace closure_test;

std::vector<double> inputs(std::size_t n) {
  std::vector<double> xs(n);
  std::iota(xs.begin(), xs.end(), 0.0);
  return xs;
}

TEST(ClosureTest, PartialBindsLeadingArgumentsThroughAMapOfTenThousand) {
  brine::Pool pool({.workers = 2});
  const auto xs = inputs(10'000);
  const auto line = brine::partial(affine, 2.0, 1.0);
  const std::vector<double> ys = pool.map(line, xs, {.chunksize = 64});
  ASSERT_EQ(ys.size(), xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) ASSERT_EQ(ys[i], 2.0 * xs[i] + 1.0) << i;
  EXPECT_EQ(pool.submit(brine::partial(tag, std::string("item-")), 7).get(), "item-7");
}

TEST(ClosureTest, TwoPartialsOfOneFunctionKeepTheirOwnState) {
  brine::Pool pool({.workers = 2});
  const auto xs = inputs(10'000);
  auto doubled = pool.map_chunks(brine::partial(affine, 2.0, 0.0), xs, {.chunksize = 100});
  auto shifted = pool.map_chunks(brine::partial(affine, 1.0, 5.0), xs, {.chunksize = 100});
  std::size_t i = 0;
  for (std::size_t c = 0; c < doubled.size(); ++c) {
    const auto a = doubled[c].get();
    const auto b = shifted[c].get();
    for (std::size_t k = 0; k < a.size(); ++k, ++i) {
      ASSERT_EQ(a[k], 2.0 * xs[i]);
      ASSERT_EQ(b[k], xs[i] + 5.0);
    }
  }
  EXPECT_EQ(i, xs.size());
}

TEST(ClosureTest, RegisteredFunctorCarriesItsMembers) {
  brine::Pool pool({.workers = 2});
  const auto xs = inputs(10'000);
  const std::vector<std::string> hi = pool.map(Threshold{9'000, "high"}, xs);
  const std::vector<std::string> lo = pool.map(Threshold{10, "low"}, xs);
  for (std::size_t i = 0; i < xs.size(); ++i) {
    ASSERT_EQ(hi[i], xs[i] > 9'000 ? "high" : "") << i;
    ASSERT_EQ(lo[i], xs[i] > 10 ? "low" : "") << i;
  }
}

TEST(ClosureTest, LambdaByValueRunsInAWorkerOfTheSameBinary) {
  brine::Pool pool({.workers = 2});
  const auto xs = inputs(10'000);
  const double k = 3.0;
  const int parent = getpid();
  auto scale = [k](double x) { return x * k; };
  const std::vector<double> ys = pool.map(scale, xs);
  for (std::size_t i = 0; i < xs.size(); ++i) ASSERT_EQ(ys[i], 3.0 * xs[i]);
  // Two lambdas of one type with different captures don't collide.
  auto make = [](double factor) { return [factor](double x) { return x * factor; }; };
  auto f2 = pool.submit(make(2.0), 21.0);
  auto f10 = pool.submit(make(10.0), 4.2);
  EXPECT_EQ(f2.get(), 42.0);
  EXPECT_DOUBLE_EQ(f10.get(), 42.0);
  EXPECT_NE(pool.submit([parent]() { return getpid() != parent; }).get(), false);
}

TEST(ClosureTest, ALambdaFromAnotherImageIsRefused) {
  // Forge the task of a lambda as if sent from a different build: the worker checks the id.
  brine::Pool pool({.workers = 1});
  auto lambda = [](int x) { return x + 1; };
  using Entry = brine::detail::LambdaEntry<decltype(lambda)>;
  const uint64_t real = Entry::info.image_id;
  const_cast<brine::FunctionInfo&>(Entry::info).image_id = real ^ 1;  // the parent now lies about its image
  auto f = pool.submit(lambda, 1);
  const_cast<brine::FunctionInfo&>(Entry::info).image_id = real;
  try {
    f.get();
    FAIL() << "expected brine::NotSerializable";
  } catch (const brine::NotSerializable& e) {
    EXPECT_NE(std::string(e.what()).find("different binary image"), std::string::npos) << e.what();
  }
  EXPECT_EQ(pool.submit(lambda, 1).get(), 2);
}

}  // namespace
