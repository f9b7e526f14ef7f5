#include "brine/core/reducer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <string>

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

// Encodes v as the root of a buffer, verifies it against T's hooks, decodes it back as T.
template <class T>
T round_trip(const T& v, const brine::ReducerTable* table = nullptr) {
  flatbuffers::FlatBufferBuilder fbb;
  brine::Encoder e(fbb, {.reducers = table});
  fbb.Finish(flatbuffers::Offset<void>(brine::detail::write_root(e, v)));
  brine::Decoder d(nullptr, table);
  d.set_envelope(fbb.GetBufferPointer(), fbb.GetSize(), nullptr);
  const uint8_t* root = flatbuffers::GetRoot<uint8_t>(fbb.GetBufferPointer());
  flatbuffers::Verifier verifier = d.verifier();
  EXPECT_TRUE(brine::detail::Root<T>::verify(verifier, root));
  return brine::detail::read_root<T>(d, root);
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

struct Particle {
  float x = 0, y = 0, z = 0;
  uint32_t id = 0;
  bool operator==(const Particle&) const = default;
};
struct Flagged {
  float x = 0;
  bool on = false;  // a bool is not a FlatBuffers struct member brine trusts: a table
};

}  // namespace

template <>
struct brine::Reducer<Particle> : brine::Fields<&Particle::x, &Particle::y, &Particle::z, &Particle::id> {};
template <>
struct brine::Reducer<Flagged> : brine::Fields<&Flagged::x, &Flagged::on> {};

namespace {

TEST(ReducerTest, SpanDecodesWithoutCopyingFromTheEnvelope) {
  std::vector<double> xs(1000);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<double>(i) * 0.5;
  flatbuffers::FlatBufferBuilder fbb;
  brine::Encoder e(fbb);
  fbb.Finish(flatbuffers::Offset<void>(brine::detail::write_root(e, std::span<const double>(xs))));
  brine::Decoder d;
  d.set_envelope(fbb.GetBufferPointer(), fbb.GetSize(), nullptr);
  auto span = brine::detail::read_root<std::span<const double>>(d, flatbuffers::GetRoot<uint8_t>(fbb.GetBufferPointer()));
  ASSERT_EQ(span.size(), xs.size());
  const auto* begin = reinterpret_cast<const std::byte*>(fbb.GetBufferPointer());
  const auto* p = reinterpret_cast<const std::byte*>(span.data());
  EXPECT_TRUE(p >= begin && p < begin + fbb.GetSize()) << "the span must point into the envelope";
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % alignof(double), 0u);
  EXPECT_TRUE(std::equal(span.begin(), span.end(), xs.begin()));
}

TEST(ReducerTest, PlainStructsOfScalarsAreFlatBuffersStructsAndDecodeInPlace) {
  static_assert(brine::Wire<Particle>::kind == brine::WireKind::kStruct);
  static_assert(brine::Wire<Flagged>::kind == brine::WireKind::kTable);
  std::vector<Particle> ps;
  for (uint32_t i = 0; i < 100; ++i) ps.push_back({float(i), -float(i), 0.5f, i});
  flatbuffers::FlatBufferBuilder fbb;
  brine::Encoder e(fbb);
  fbb.Finish(flatbuffers::Offset<void>(brine::detail::write_root(e, ps)));
  // 16 bytes an element, one block: the whole buffer is barely more than the elements.
  EXPECT_LT(fbb.GetSize(), ps.size() * sizeof(Particle) + 64);
  brine::Decoder d;
  d.set_envelope(fbb.GetBufferPointer(), fbb.GetSize(), nullptr);
  const auto view = brine::detail::read_root<std::span<const Particle>>(d, flatbuffers::GetRoot<uint8_t>(fbb.GetBufferPointer()));
  ASSERT_EQ(view.size(), ps.size());
  EXPECT_TRUE(std::equal(view.begin(), view.end(), ps.begin()));
  EXPECT_EQ(round_trip(ps), ps);
  EXPECT_EQ(round_trip(Flagged{2.5f, true}).on, true);
  EXPECT_EQ(brine::describe<Particle>(), "S(f32,f32,f32,u32)");
  EXPECT_EQ(brine::describe<Flagged>(), "T(f32,b)");
}

TEST(ReducerTest, UserTypesWithHooksComposeAndRoundTrip) {
  Shape s{{{1, 2, "a", std::nullopt}, {3, 4, "b", std::vector<int>{5, 6}}}, Color::kBlue};
  expect_round_trip(s);
  EXPECT_NE(brine::type_fingerprint<Shape>(), brine::type_fingerprint<Point>());
  EXPECT_EQ(brine::type_signature<std::vector<double>>(), brine::type_signature<std::span<const double>>());
}

// The tables of a vector share their vtables (Encoder::end_table), as FlatBuffers' own
// de-duplication would: two shapes of element (a zero x left out, an optional present or not)
// make a few vtables for the whole vector, not one per element, and a FlatBuffers verifier and
// reader accept the result. (A vtable holds its table's size, which counts the padding that
// aligns the table's first field: one shape can take two vtables, as with FlatBuffers.)
TEST(ReducerTest, TablesOfAVectorShareTheirVtables) {
  Shape shape;
  for (int i = 0; i < 100; ++i) {
    if (i % 2 == 0) {
      shape.points.push_back({1.5 + i, 2.0, "p" + std::to_string(i), std::nullopt});
    } else {
      shape.points.push_back({0.0, -1.0 * i, "q", std::vector<int>{i, i + 1}});
    }
  }
  flatbuffers::FlatBufferBuilder fbb;
  brine::Encoder e(fbb);
  fbb.Finish(flatbuffers::Offset<void>(brine::detail::write_root(e, shape)));
  const auto* root = flatbuffers::GetRoot<flatbuffers::Table>(fbb.GetBufferPointer());
  const auto* points = root->GetPointer<const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::Table>>*>(
      brine::detail::slot_of(0));
  ASSERT_NE(points, nullptr);
  ASSERT_EQ(points->size(), 100u);
  std::set<const uint8_t*> vtables;
  for (const flatbuffers::Table* t : *points) {
    const auto* at = reinterpret_cast<const uint8_t*>(t);
    vtables.insert(at - flatbuffers::ReadScalar<flatbuffers::soffset_t>(at));
    // Read as any FlatBuffers reader would: field 0 (x) is absent exactly when x is zero.
    const double x = t->GetField<double>(brine::detail::slot_of(0), 0.0);
    EXPECT_EQ(t->CheckField(brine::detail::slot_of(0)), x != 0.0);
  }
  EXPECT_GE(vtables.size(), 2u);
  EXPECT_LE(vtables.size(), 4u);
  EXPECT_EQ(round_trip(shape), shape);
}

TEST(ReducerTest, ZeroAndNegativeZeroAndEmptyOptionalsStayDistinct) {
  // A scalar equal to its default is left out of its table; -0.0 is not 0.0 bit for bit.
  EXPECT_TRUE(std::signbit(std::get<0>(round_trip(std::tuple<double>{-0.0}))));
  expect_round_trip(std::optional<int>{0});
  expect_round_trip(std::optional<int>{});
  expect_round_trip(std::tuple<std::optional<double>, std::optional<std::string>>{0.0, std::nullopt});
  expect_round_trip(std::variant<int, double, std::string>{0});
  expect_round_trip(std::variant<int, double, std::string>{0.0});
  expect_round_trip(std::vector<std::vector<int>>{{1, 2}, {}, {3}});
  expect_round_trip(std::vector<std::optional<int>>{1, std::nullopt, 0});
}

TEST(ReducerTest, PerTableOverridesTakePrecedence) {
  brine::ReducerTable table;
  table.add<int, int>([](const int& v) { return v * 10; }, [](const int& v) { return v + 1; });
  EXPECT_EQ(round_trip(4, &table), 41);
  EXPECT_EQ(round_trip(std::vector<int>{1, 2}, &table), (std::vector<int>{11, 21}));
  EXPECT_EQ(round_trip(4), 4);
}

}  // namespace
