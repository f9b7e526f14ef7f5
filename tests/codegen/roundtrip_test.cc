// Generated reduce hooks and task stubs at work: values of the corpus round-trip through
// brine::Encoder/Decoder, fields land at their schema ids, BRINE_REF/BRINE_COPY decide
// placement, a field added at the end stays compatible both ways, and typed stubs submit
// through the registry. The flatc output of each schema compiles beside the user's types.
#include <gtest/gtest.h>

#include <numeric>

#include "arrays.brine.h"
#include "arrays_generated.h"
#include "enums.brine.h"
#include "enums_generated.h"
#include "evolution_v1.brine.h"
#include "evolution_v2.brine.h"
#include "brine/ipc/pool.h"
#include "local_pool.h"
#include "nested.brine.h"
#include "optional.brine.h"
#include "simple.brine.h"
#include "simple_generated.h"
#include "vectors.brine.h"

namespace {

using brine::testing::HeapArena;

// Encodes `v` as the root of a buffer (large data into `arena`), verifies it, decodes it as T.
template <class T, class U>
T reencode(const U& v, HeapArena& arena, std::size_t threshold = brine::kDefaultReferenceThreshold) {
  flatbuffers::FlatBufferBuilder fbb;
  brine::Encoder e(fbb, brine::EncodeOptions{.reference_threshold = threshold, .sink = &arena});
  fbb.Finish(e.encode(v));
  flatbuffers::Verifier verifier(fbb.GetBufferPointer(), fbb.GetSize());
  EXPECT_TRUE(verifier.VerifyBuffer<brine::fb::Value>(nullptr));
  return brine::Decoder(&arena).decode<T>(flatbuffers::GetRoot<brine::fb::Value>(fbb.GetBufferPointer()));
}

template <class T>
T round_trip(const T& v) {
  HeapArena arena;
  return reencode<T>(v, arena);
}

corpus::Point point() { return {.x = 1.5, .y = -2, .id = 7, .flags = 0x81, .visible = false, .label = "p7"}; }

corpus::Image image(std::size_t pixels) {
  corpus::Image img;
  img.width = static_cast<uint32_t>(pixels);
  img.height = 1;
  img.pixels.resize(pixels);
  std::iota(img.pixels.begin(), img.pixels.end(), 0.0f);
  img.kernel = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  img.histogram = {1, 2, 3};
  img.lut[4095] = 42;
  img.taps = {{{0.25f}, {0.5f}, {0.25f}}};
  return img;
}

TEST(CodegenRoundTripTest, ScalarsStringsAndAliases) { EXPECT_EQ(round_trip(point()), point()); }

TEST(CodegenRoundTripTest, NestedStructs) {
  const Labelled l{.segment = {.from = {1, 2}, .to = {3, 5}, .style = {.color = "red", .width = 2}}, .text = "s"};
  EXPECT_EQ(round_trip(l), l);
}

TEST(CodegenRoundTripTest, OptionalsEngagedAndEmpty) {
  const corpus::Reading full{.value = 3.5,
                             .unit = corpus::Unit::kFoot,
                             .note = "n",
                             .history = std::vector<int64_t>{1, -2},
                             .valid = corpus::Range{1, 2}};
  EXPECT_EQ(round_trip(full), full);
  EXPECT_EQ(round_trip(corpus::Reading{}), corpus::Reading{});
}

TEST(CodegenRoundTripTest, Enums) {
  const corpus::Palette p{.primary = corpus::Color::kBlue,
                          .level = corpus::Level::kLow,
                          .shape = corpus::kTriangle,
                          .colors = {corpus::Color::kGreen, corpus::Color::kRed}};
  EXPECT_EQ(round_trip(p), p);
}

TEST(CodegenRoundTripTest, VectorsOfStructs) {
  const corpus::Cloud c{.particles = {{2, {1, 2, 3}}, {3, {}}}, .names = {"a", ""}, .alive = {true, false}, .ids = {4}};
  EXPECT_EQ(round_trip(c), c);
}

TEST(CodegenRoundTripTest, LargeArrays) { EXPECT_EQ(round_trip(image(100'000)), image(100'000)); }

// Field i of the struct is item i of its composite: the schema's ids are the wire's positions.
TEST(CodegenWireTest, FieldIdsAreItemPositions) {
  flatbuffers::FlatBufferBuilder fbb;
  brine::Encoder e(fbb);
  fbb.Finish(e.encode(point()));
  const auto* items = flatbuffers::GetRoot<brine::fb::Value>(fbb.GetBufferPointer())->items();
  ASSERT_EQ(items->size(), 6u);
  EXPECT_EQ(items->Get(2)->scalar(), 7u);
  EXPECT_EQ(items->Get(5)->str()->str(), "p7");
}

// BRINE_REF places data in the arena whatever its size, BRINE_COPY copies it whatever the
// threshold, unmarked fields follow the size rule.
TEST(CodegenWireTest, PlacementMarkersOverrideTheSizeRule) {
  auto placed = [](std::size_t threshold) {
    HeapArena arena;
    flatbuffers::FlatBufferBuilder fbb;
    brine::Encoder e(fbb, brine::EncodeOptions{.reference_threshold = threshold, .sink = &arena});
    fbb.Finish(e.encode(image(4)));
    const auto* items = flatbuffers::GetRoot<brine::fb::Value>(fbb.GetBufferPointer())->items();
    std::vector<bool> by_ref;
    for (unsigned id : {2u, 3u, 4u, 5u}) by_ref.push_back(items->Get(id)->ref() != nullptr);
    return by_ref;  // pixels (REF), kernel (COPY), histogram (auto), lut (REF)
  };
  EXPECT_EQ(placed(brine::kDefaultReferenceThreshold), (std::vector<bool>{true, false, false, true}));
  EXPECT_EQ(placed(0), (std::vector<bool>{true, false, true, true}));
}

TEST(CodegenEvolutionTest, OldReaderIgnoresAFieldAddedAtTheEnd) {
  HeapArena arena;
  const evolution_v2::Particle v2{.mass = 2, .position = {1, 2}, .charge = 0.5f};
  const auto v1 = reencode<evolution_v1::Particle>(v2, arena);
  EXPECT_EQ(v1.mass, 2);
  EXPECT_EQ(v1.position, (std::vector<double>{1, 2}));
}

TEST(CodegenEvolutionTest, NewReaderGivesOldDataTheFieldsDefault) {
  HeapArena arena;
  const evolution_v1::Particle v1{.mass = 3, .position = {4}};
  const auto v2 = reencode<evolution_v2::Particle>(v1, arena);
  EXPECT_EQ(v2.mass, 3);
  EXPECT_EQ(v2.position, (std::vector<double>{4}));
  EXPECT_EQ(v2.charge, -1.0f);
}

// The flatc-compiled schema agrees with the C++ types and lives beside them (namespace ::fb).
TEST(CodegenSchemaTest, FlatcOutputMatchesTheTypes) {
  static_assert(static_cast<int>(corpus::fb::Color::kBlue) == static_cast<int>(corpus::Color::kBlue));
  static_assert(static_cast<int>(corpus::fb::Level::kLow) == static_cast<int>(corpus::Level::kLow));
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(corpus::fb::CreatePointDirect(fbb, 1.5, -2, 7, 0x81, false, "p7"));
  const auto* p = flatbuffers::GetRoot<corpus::fb::Point>(fbb.GetBufferPointer());
  EXPECT_EQ(p->label()->str(), "p7");
  EXPECT_EQ(corpus::fb::Image::VT_PIXELS, flatbuffers::FieldIndexToOffset(2));
}

// Typed stubs through a pool: in this process (LocalPool) and through real worker processes.
template <class Pool>
class CodegenTaskTest : public ::testing::Test {
 protected:
  Pool pool_;
};
using PoolTypes = ::testing::Types<brine::testing::LocalPool, brine::Pool>;
TYPED_TEST_SUITE(CodegenTaskTest, PoolTypes);

TYPED_TEST(CodegenTaskTest, StubsRunTheTasks) {
  auto& pool = this->pool_;
  corpus::Point moved = point();
  moved.x += 1;
  moved.y += 2;
  EXPECT_EQ(corpus::tasks::translate::submit(pool, point(), 1.0, 2.0).get(), moved);
  EXPECT_EQ(corpus::tasks::describe::submit(pool, point()).get(), "p7@7");
  corpus::geo::Segment segment;
  segment.to = {3, 4};
  EXPECT_EQ(corpus::geo::tasks::length::submit(pool, segment).get(), 25);
  corpus::Reading reading;
  EXPECT_EQ(corpus::tasks::midpoint::submit(pool, reading).get(), std::nullopt);
  reading.valid = corpus::Range{1, 3};
  EXPECT_EQ(corpus::tasks::midpoint::submit(pool, reading).get(), 2.0);
  corpus::Palette palette;
  palette.colors = {corpus::Color::kBlue};
  EXPECT_EQ(corpus::tasks::brightest::submit(pool, palette).get(), corpus::Color::kBlue);
  EXPECT_EQ(corpus::tasks::total_mass::submit(pool, std::vector<corpus::Particle>{{1, {}}, {2.5, {}}}).get(), 3.5);
  const std::vector<double> values(1000, 0.5);
  EXPECT_EQ(corpus::tasks::sum::submit(pool, values).get(), 500);  // std::vector -> std::span parameter
}

TYPED_TEST(CodegenTaskTest, LargeFieldsTravelByReference) {
  const corpus::Image in = image(100'000);
  const corpus::Image out = corpus::tasks::blur::submit(this->pool_, in, 2).get();
  EXPECT_EQ(out.pixels[99'999], 199'998.0f);
  EXPECT_EQ(out.lut, in.lut);
}

TEST(CodegenRegistrationTest, TasksAreRegisteredUnderTheirQualifiedNames) {
  for (const char* name : {"corpus::translate", "corpus::geo::length", "corpus::step", "corpus::blur"}) {
    EXPECT_NE(brine::FunctionRegistry::global().find_name(name), nullptr) << name;
  }
}

}  // namespace
