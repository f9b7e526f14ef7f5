// Generated reduce hooks and task stubs at work: values of the corpus round-trip, brine's bytes
// are exactly what the generated .fbs describes (flatc's verifier accepts a dump and flatc's
// accessors read it field by field; brine::schema_of<T>() and the .fbs declare the same
// tables and structs), BRINE_REF/BRINE_COPY decide placement, a field added at the end of a
// table stays compatible both ways, and typed stubs submit through the registry.
#include <gtest/gtest.h>

#include <flatbuffers/idl.h>
#include <flatbuffers/util.h>

#include <numeric>
#include <vector>

#include "arrays.brine.h"
#include "arrays_generated.h"
#include "brine/core/serialize.h"
#include "enums.brine.h"
#include "enums_generated.h"
#include "evolution_v1.brine.h"
#include "evolution_v1_generated.h"
#include "evolution_v2.brine.h"
#include "evolution_v2_generated.h"
#include "brine/ipc/pool.h"
#include "local_pool.h"
#include "nested.brine.h"
#include "nested_generated.h"
#include "optional.brine.h"
#include "optional_generated.h"
#include "simple.brine.h"
#include "schema_check.h"
#include "simple_generated.h"
#include "vectors.brine.h"
#include "vectors_generated.h"

namespace {

using brine::testing::HeapArena;

template <class T>
T round_trip(const T& v) {
  const brine::Bytes bytes = brine::dumps(v);
  return brine::loads<T>(bytes);
}

using brine::testing::flatc_root;
// A temporary dump: kept alive for the rest of the test binary, as the returned pointer reads it.
template <class FbT>
const FbT* flatc_root(brine::Bytes&& bytes, const char* identifier) {
  static std::vector<brine::Bytes> kept;
  kept.push_back(std::move(bytes));
  return flatc_root<FbT>(kept.back(), identifier);
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
  img.window = {.weights = {1, 2, 3}, .edges = {{{-1}, {1}}}, .size = 3};
  return img;
}

Labelled labelled() {
  return {.segment = {.from = {1, 2}, .to = {3, 5}, .style = {.color = "red", .width = 2}}, .text = "s"};
}

corpus::Reading reading() {
  return {.value = 3.5, .unit = corpus::Unit::kFoot, .note = "n", .history = std::vector<int64_t>{1, -2},
          .valid = corpus::Range{1, 2}};
}

TEST(CodegenRoundTripTest, ScalarsStringsAndAliases) { EXPECT_EQ(round_trip(point()), point()); }

TEST(CodegenRoundTripTest, NestedStructs) { EXPECT_EQ(round_trip(labelled()), labelled()); }

TEST(CodegenRoundTripTest, OptionalsEngagedAndEmpty) {
  EXPECT_EQ(round_trip(reading()), reading());
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

TEST(CodegenRoundTripTest, StructKindTypesAndTables) {
  EXPECT_EQ(round_trip(corpus::geo::Vec2{3, -4}), (corpus::geo::Vec2{3, -4}));
  EXPECT_EQ(round_trip(corpus::Pose{1, 2}), (corpus::Pose{1, 2}));
  const std::vector<corpus::geo::Vec2> path = {{1, 2}, {3, 4}, {5, 6}};
  EXPECT_EQ(round_trip(path), path);
}

// The layout codegen chose is the one brine::Fields applies: plain structs of fixed-width
// scalars are FlatBuffers structs, BRINE_TABLE and anything holding a bool, a string, a vector
// or an optional are tables.
TEST(CodegenWireTest, StructsAndTablesAsCodegenDecided) {
  EXPECT_EQ(brine::Wire<corpus::geo::Vec2>::kind, brine::WireKind::kStruct);
  EXPECT_EQ(brine::Wire<corpus::Range>::kind, brine::WireKind::kStruct);
  EXPECT_EQ(brine::Wire<corpus::Tap>::kind, brine::WireKind::kStruct);
  EXPECT_EQ(brine::Wire<corpus::Window>::kind, brine::WireKind::kStruct);
  EXPECT_EQ(brine::Wire<corpus::Pose>::kind, brine::WireKind::kTable);
  EXPECT_EQ(brine::Wire<corpus::Point>::kind, brine::WireKind::kTable);
  EXPECT_EQ(brine::Wire<corpus::geo::Segment>::kind, brine::WireKind::kTable);
  EXPECT_EQ(brine::describe<corpus::geo::Vec2>(), "S(f32,f32)");
  static_assert(sizeof(corpus::geo::fb::Vec2) == sizeof(corpus::geo::Vec2));
  static_assert(sizeof(corpus::fb::Range) == sizeof(corpus::Range));
}

// A dump of an exposed type is a buffer of the generated schema: flatc's verifier accepts it
// (with the header's file identifier) and flatc's accessors read every field.
TEST(CodegenWireTest, FlatcReadsADumpFieldByField) {
  const brine::Bytes bytes = brine::dumps(point());
  ASSERT_TRUE(flatbuffers::BufferHasIdentifier(bytes.data(), corpus::fb::PointIdentifier()));
  flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  ASSERT_TRUE(corpus::fb::VerifyPointBuffer(v));
  const corpus::fb::Point* p = corpus::fb::GetPoint(bytes.data());
  EXPECT_EQ(p->x(), 1.5);
  EXPECT_EQ(p->y(), -2);
  EXPECT_EQ(p->id(), 7);
  EXPECT_EQ(p->flags(), 0x81);
  EXPECT_FALSE(p->visible());
  EXPECT_EQ(p->label()->str(), "p7");
}

TEST(CodegenWireTest, FlatcReadsNestedTablesAndStructs) {
  const brine::Bytes bytes = brine::dumps(labelled());
  flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  ASSERT_TRUE(fb::VerifyLabelledBuffer(v));
  const fb::Labelled* l = fb::GetLabelled(bytes.data());
  EXPECT_EQ(l->text()->str(), "s");
  const corpus::geo::fb::Segment* s = l->segment();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->from()->x(), 1);  // a FlatBuffers struct, inline in the table
  EXPECT_EQ(s->from()->y(), 2);
  EXPECT_EQ(s->to()->x(), 3);
  EXPECT_EQ(s->to()->y(), 5);
  EXPECT_EQ(s->style()->color()->str(), "red");
  EXPECT_EQ(s->style()->width(), 2);
  // A non-root table of the header verifies by its identifier too.
  const auto* seg = flatc_root<corpus::geo::fb::Segment>(brine::dumps(labelled().segment), "NEST");
  EXPECT_EQ(seg->style()->width(), 2);
}

TEST(CodegenWireTest, FlatcReadsOptionals) {
  const corpus::fb::Reading* r = flatc_root<corpus::fb::Reading>(brine::dumps(reading()), "OPTI");
  ASSERT_TRUE(r->value().has_value());
  EXPECT_EQ(*r->value(), 3.5);
  EXPECT_EQ(r->unit(), corpus::fb::Unit::kFoot);
  EXPECT_EQ(r->note()->str(), "n");
  ASSERT_EQ(r->history()->size(), 2u);
  EXPECT_EQ(r->history()->Get(1), -2);
  EXPECT_EQ(r->valid()->high(), 2);
  const brine::Bytes empty = brine::dumps(corpus::Reading{.value = 0.0, .unit = {}, .note = {}, .history = {}, .valid = {}});
  const corpus::fb::Reading* e = flatc_root<corpus::fb::Reading>(empty, "OPTI");
  ASSERT_TRUE(e->value().has_value());  // an engaged optional scalar is written even when 0
  EXPECT_EQ(*e->value(), 0.0);
  EXPECT_FALSE(e->unit().has_value());
  EXPECT_EQ(e->note(), nullptr);
  EXPECT_EQ(e->history(), nullptr);
  EXPECT_EQ(e->valid(), nullptr);
}

TEST(CodegenWireTest, FlatcReadsEnumsVectorsAndStructVectors) {
  const corpus::Palette palette{.primary = corpus::Color::kBlue, .level = corpus::Level::kLow,
                                .shape = corpus::kTriangle, .colors = {corpus::Color::kGreen}};
  const auto* p = flatc_root<corpus::fb::Palette>(brine::dumps(palette), "ENUM");
  EXPECT_EQ(p->primary(), corpus::fb::Color::kBlue);  // default kRed, an enumerator: the field is a Color
  EXPECT_EQ(p->level(), corpus::fb::Level::kLow);
  EXPECT_EQ(p->shape(), corpus::fb::Shape::kTriangle);
  EXPECT_EQ(p->colors()->Get(0), corpus::fb::Color::kGreen);

  const corpus::Cloud cloud{.particles = {{2, {1, 2, 3}}}, .names = {"a", "b"}, .alive = {true, false}, .ids = {4}};
  const auto* c = flatc_root<corpus::fb::Cloud>(brine::dumps(cloud), "VECT");
  EXPECT_EQ(c->particles()->Get(0)->mass(), 2);
  EXPECT_EQ(c->particles()->Get(0)->position()->Get(2), 3);
  EXPECT_EQ(c->names()->Get(1)->str(), "b");
  EXPECT_TRUE(c->alive()->Get(0));
  EXPECT_FALSE(c->alive()->Get(1));
  EXPECT_EQ(c->ids()->Get(0), 4);

  const corpus::Image img = image(10);
  const auto* i = flatc_root<corpus::fb::Image>(brine::dumps(img), "ARRA");
  EXPECT_EQ(i->width(), 10u);
  EXPECT_EQ(i->pixels()->Get(9), 9.0f);
  ASSERT_EQ(i->kernel()->size(), 9u);
  EXPECT_EQ(i->kernel()->Get(8), 9.0f);
  ASSERT_EQ(i->lut()->size(), 4096u);
  EXPECT_EQ(i->lut()->Get(4095), 42.0);
  ASSERT_EQ(i->taps()->size(), 3u);  // std::array of FlatBuffers structs: a struct vector
  EXPECT_EQ(i->taps()->Get(1)->gain(), 0.5f);
  const corpus::fb::Window* w = i->window();  // a struct of fixed-length arrays, inline
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->weights()->Get(2), 3.0f);
  EXPECT_EQ(w->edges()->Get(0)->gain(), -1.0f);
  EXPECT_EQ(w->size(), 3u);
}

TEST(CodegenSchemaTest, RuntimeSchemaDescribesTheSameBytesAsTheGeneratedOne) {
  brine::testing::expect_same_bytes<corpus::Pose>("simple");
  brine::testing::expect_same_bytes<corpus::Point>("simple");
  brine::testing::expect_same_bytes<corpus::geo::Vec2>("nested");
  brine::testing::expect_same_bytes<corpus::geo::Segment::Style>("nested");
  brine::testing::expect_same_bytes<corpus::geo::Segment>("nested");
  brine::testing::expect_same_bytes<Labelled>("nested");
  brine::testing::expect_same_bytes<corpus::Range>("optional");
  brine::testing::expect_same_bytes<corpus::Reading>("optional");
  brine::testing::expect_same_bytes<corpus::Palette>("enums");
  brine::testing::expect_same_bytes<corpus::Particle>("vectors");
  brine::testing::expect_same_bytes<corpus::Cloud>("vectors");
  brine::testing::expect_same_bytes<corpus::Tap>("arrays");
  brine::testing::expect_same_bytes<corpus::Window>("arrays");
  brine::testing::expect_same_bytes<corpus::Image>("arrays");
  brine::testing::expect_same_bytes<evolution_v1::Particle>("evolution_v1");
  brine::testing::expect_same_bytes<evolution_v2::Particle>("evolution_v2");
}

// BRINE_REF places data in the arena whatever its size, BRINE_COPY copies it whatever the
// threshold, unmarked fields follow the size rule. A placed vector is an empty vector in the
// envelope (its bytes are in the arena); a copied one holds its elements.
TEST(CodegenWireTest, PlacementMarkersOverrideTheSizeRule) {
  auto placed = [](std::size_t threshold) {
    HeapArena arena;
    flatbuffers::FlatBufferBuilder fbb;
    brine::Encoder e(fbb, brine::EncodeOptions{.reference_threshold = threshold, .sink = &arena});
    fbb.Finish(flatbuffers::Offset<void>(brine::detail::write_root(e, image(4))));
    const auto* img = flatbuffers::GetRoot<corpus::fb::Image>(fbb.GetBufferPointer());
    // pixels (REF), kernel (COPY), histogram (auto), lut (REF)
    return std::vector<bool>{img->pixels()->size() == 0, img->kernel()->size() == 0, img->histogram()->size() == 0,
                             img->lut()->size() == 0};
  };
  EXPECT_EQ(placed(brine::kDefaultReferenceThreshold), (std::vector<bool>{true, false, false, true}));
  EXPECT_EQ(placed(0), (std::vector<bool>{true, false, true, true}));
}

// Evolution: v2 adds a field at the end of a table. Both versions share the file identifier
// (of evolution_*.fbs: "EVOL") and their shapes differ only by a trailing field.
TEST(CodegenEvolutionTest, OldReaderIgnoresAFieldAddedAtTheEnd) {
  const evolution_v2::Particle v2{.mass = 2, .position = {1, 2}, .charge = 0.5f};
  const brine::Bytes bytes = brine::dumps(v2);
  const auto v1 = brine::loads<evolution_v1::Particle>(bytes);
  EXPECT_EQ(v1.mass, 2);
  EXPECT_EQ(v1.position, (std::vector<double>{1, 2}));
  // flatc's reader of the old schema too.
  const auto* old = flatc_root<evolution_v1::fb::Particle>(bytes, "EVOL");
  EXPECT_EQ(old->mass(), 2);
  EXPECT_EQ(old->position()->Get(1), 2);
}

// The new reader sees the absent field's schema default, which is the C++ default member
// initializer (charge = -1): brine's reader and flatc's alike.
TEST(CodegenEvolutionTest, NewReaderGivesOldDataTheFieldsDefault) {
  const evolution_v1::Particle v1{.mass = 3, .position = {4}};
  const brine::Bytes bytes = brine::dumps(v1);
  const auto v2 = brine::loads<evolution_v2::Particle>(bytes);
  EXPECT_EQ(v2.mass, 3);
  EXPECT_EQ(v2.position, (std::vector<double>{4}));
  EXPECT_EQ(v2.charge, -1.0f);
  const auto* now = flatc_root<evolution_v2::fb::Particle>(bytes, "EVOL");
  EXPECT_EQ(now->charge(), -1.0f);
  EXPECT_EQ(now->mass(), 3);
}

// The flatc-compiled schema agrees with the C++ types and lives beside them (namespace ::fb).
TEST(CodegenSchemaTest, FlatcOutputMatchesTheTypes) {
  static_assert(static_cast<int>(corpus::fb::Color::kBlue) == static_cast<int>(corpus::Color::kBlue));
  static_assert(static_cast<int>(corpus::fb::Level::kLow) == static_cast<int>(corpus::Level::kLow));
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(corpus::fb::CreatePointDirect(fbb, 1.5, -2, 7, 0x81, false, "p7"), corpus::fb::PointIdentifier());
  // A buffer written by flatc's code reads back with brine::loads.
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(fbb.GetBufferPointer()), fbb.GetSize());
  EXPECT_EQ(brine::loads<corpus::Point>(bytes), point());
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
