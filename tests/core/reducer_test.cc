#include "brine/core/reducer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace {

enum class Color : uint8_t { kRed = 1, kBlue = 7 };

struct Point {
  double x = 0, y = 0;
  std::string label;
  std::optional<std::vector<int>> tags;
  bool operator==(const Point&) const = default;
};

struct Shape {
  std::vector<Point> points;
  Color color = Color::kRed;
  bool operator==(const Shape&) const = default;
};

}  // namespace

template <>
struct brine::Reducer<Point> : brine::Fields<&Point::x, &Point::y, &Point::label, &Point::tags> {};
template <>
struct brine::Reducer<Shape> : brine::Fields<&Shape::points, &Shape::color> {};

namespace {

// Encodes v as the root of a buffer, verifies nothing, decodes it back as T.
template <class T>
T round_trip(const T& v) {
  flatbuffers::FlatBufferBuilder fbb;
  brine::Encoder e(fbb);
  fbb.Finish(e.encode(v));
  const auto* root = flatbuffers::GetRoot<brine::fb::Value>(fbb.GetBufferPointer());
  flatbuffers::Verifier verifier(fbb.GetBufferPointer(), fbb.GetSize());
  EXPECT_TRUE(verifier.VerifyBuffer<brine::fb::Value>(nullptr));
  brine::Decoder d;
  return d.decode<T>(root);
}

template <class T>
void expect_round_trip(const T& v) {
  EXPECT_EQ(round_trip(v), v);
}

TEST(ReducerTest, ArithmeticRoundTripsAtTheLimits) {
  expect_round_trip(true);
  expect_round_trip(false);
  expect_round_trip('x');
  expect_round_trip(std::numeric_limits<int8_t>::min());
  expect_round_trip(std::numeric_limits<int64_t>::min());
  expect_round_trip(std::numeric_limits<uint64_t>::max());
  expect_round_trip(-0.0f);
  expect_round_trip(std::numeric_limits<double>::denorm_min());
  expect_round_trip(std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(round_trip(std::numeric_limits<double>::quiet_NaN())));
  expect_round_trip(Color::kBlue);
}

TEST(ReducerTest, StringsAndContainersRoundTrip) {
  expect_round_trip(std::string());
  expect_round_trip(std::string("hello\0world", 11));
  expect_round_trip(std::vector<double>{1.5, -2.25, 1e300});
  expect_round_trip(std::vector<uint8_t>{});
  expect_round_trip(std::vector<bool>{true, false, true});
  expect_round_trip(std::vector<std::string>{"a", "", "ccc"});
  expect_round_trip(std::pair<int, std::string>{7, "seven"});
  expect_round_trip(std::tuple<int, double, std::string, std::vector<int64_t>>{1, 2.5, "x", {1, 2, 3}});
  expect_round_trip(std::tuple<>{});
  expect_round_trip(std::optional<std::string>{});
  expect_round_trip(std::optional<std::string>{"present"});
  expect_round_trip(std::array<float, 3>{1, 2, 3});
  expect_round_trip(std::array<std::string, 2>{"a", "b"});
  expect_round_trip(std::variant<int, std::string>{std::string("v")});
  expect_round_trip(std::variant<int, std::string>{42});
  expect_round_trip(std::map<std::string, std::vector<int>>{{"a", {1}}, {"b", {2, 3}}});
  expect_round_trip(std::unordered_map<int, double>{{1, 1.5}, {2, 2.5}});
}

TEST(ReducerTest, SpanDecodesWithoutCopyingFromTheEnvelope) {
  std::vector<double> xs(1000);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<double>(i) * 0.5;
  flatbuffers::FlatBufferBuilder fbb;
  brine::Encoder e(fbb);
  fbb.Finish(e.encode(std::span<const double>(xs)));
  brine::Decoder d;
  auto span = d.decode<std::span<const double>>(flatbuffers::GetRoot<brine::fb::Value>(fbb.GetBufferPointer()));
  ASSERT_EQ(span.size(), xs.size());
  const auto* begin = reinterpret_cast<const std::byte*>(fbb.GetBufferPointer());
  const auto* p = reinterpret_cast<const std::byte*>(span.data());
  EXPECT_TRUE(p >= begin && p < begin + fbb.GetSize()) << "the span must point into the envelope";
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % alignof(double), 0u);
  EXPECT_TRUE(std::equal(span.begin(), span.end(), xs.begin()));
}

TEST(ReducerTest, UserTypesWithHooksComposeAndRoundTrip) {
  Shape s{{{1, 2, "a", std::nullopt}, {3, 4, "b", std::vector<int>{5, 6}}}, Color::kBlue};
  expect_round_trip(s);
  EXPECT_NE(brine::type_fingerprint<Shape>(), brine::type_fingerprint<Point>());
  EXPECT_EQ(brine::type_signature<std::vector<double>>(), brine::type_signature<std::span<const double>>());
}

TEST(ReducerTest, DecodingAsTheWrongShapeIsADecodeError) {
  flatbuffers::FlatBufferBuilder fbb;
  brine::Encoder e(fbb);
  fbb.Finish(e.encode(std::tuple<int, int>{1, 2}));
  brine::Decoder d;
  const auto* root = flatbuffers::GetRoot<brine::fb::Value>(fbb.GetBufferPointer());
  EXPECT_THROW(d.decode<std::string>(root), brine::DecodeError);
  EXPECT_THROW((d.decode<std::tuple<int, int, int>>(root)), brine::DecodeError);
  EXPECT_THROW(d.decode<std::vector<double>>(root), brine::DecodeError);
  EXPECT_THROW(d.decode<int>(nullptr), brine::DecodeError);
}

TEST(ReducerTest, PerTableOverridesTakePrecedence) {
  brine::ReducerTable table;
  table.add<int>([](brine::Encoder& e, const int& v) { return e.scalar(static_cast<uint64_t>(v * 10)); },
                 [](const brine::Decoder& d, const brine::fb::Value& v) { return static_cast<int>(d.scalar(v)) + 1; });
  flatbuffers::FlatBufferBuilder fbb;
  brine::Encoder e(fbb, {.reducers = &table});
  fbb.Finish(e.encode(std::vector<int>{}.empty() ? 4 : 0));
  brine::Decoder with(nullptr, &table), without;
  const auto* root = flatbuffers::GetRoot<brine::fb::Value>(fbb.GetBufferPointer());
  EXPECT_EQ(with.decode<int>(root), 41);
  EXPECT_EQ(without.decode<int>(root), 40);
}

}  // namespace
