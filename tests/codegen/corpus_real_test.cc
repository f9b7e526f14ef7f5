// The real-header corpus (corpus/real/README.md) through a real brine::Pool: every accepted
// type round-trips bit-exactly with edge values (NaN payloads, -0.0, +-inf, INT64_MIN,
// UINT64_MAX, empty and NUL-holding strings, empty vectors, disengaged optionals); flatc's
// readers of the generated schemas read brine's bytes, defaults included; brine::schema_of and
// the generated .fbs agree. Only <brine/brine.h> is included for brine's API (issue 12, item 14:
// it must be enough for brine::dumps).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include <brine/brine.h>

#include "benchmark_cpuinfo.brine.h"
#include "benchmark_cpuinfo_generated.h"
#include "geojson.brine.h"
#include "geojson_generated.h"
#include "glibc_elf.brine.h"
#include "glibc_elf_generated.h"
#include "libpng_time.brine.h"
#include "libpng_time_generated.h"
#include "linux_can.brine.h"
#include "linux_can_generated.h"
#include "linux_tcp_info.brine.h"
#include "linux_tcp_info_generated.h"
#include "map_tile.brine.h"
#include "map_tile_generated.h"
#include "schema_check.h"
#include "trading.brine.h"
#include "trading_generated.h"

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr uint64_t kUInt64Max = std::numeric_limits<uint64_t>::max();
const std::string kWithNul("a\0b\0", 4);

double nan_with_payload(uint64_t payload) { return std::bit_cast<double>(0x7ff0000000000000ull | payload); }
float nanf_with_payload(uint32_t payload) { return std::bit_cast<float>(0x7f800000u | payload); }

// Bit-exact: two values whose dumps are the same bytes hold the same bits in every field.
template <class T>
void expect_bits(const T& sent, const T& back) {
  EXPECT_EQ(brine::dumps(sent), brine::dumps(back)) << brine::type_signature<T>();
}

class CorpusTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pool_ = new brine::Pool(); }
  static void TearDownTestSuite() {
    delete pool_;
    pool_ = nullptr;
  }
  template <class T>
  static T through_pool(T (*echo)(const T&), const T& v) {
    return pool_->submit(echo, v).get();
  }
  static brine::Pool* pool_;
};
brine::Pool* CorpusTest::pool_ = nullptr;

using brine::testing::flatc_root;

std::string schema_text(const std::string& stem) {
  std::string text;
  const std::string path = std::string(CODEGEN_GENERATED_DIR) + "/" + stem + ".fbs";
  EXPECT_TRUE(flatbuffers::LoadFile(path.c_str(), false, &text)) << path;
  return text;
}

TEST_F(CorpusTest, LinuxCanFrames) {
  linux_can::can_frame f{.can_id = 0x80000123u, .len = 8, .__pad = 0xff, .__res0 = 0, .len8_dlc = 15,
                         .data = {0, 1, 2, 3, 252, 253, 254, 255}};
  const auto back = through_pool(&linux_can::echo_can, f);
  expect_bits(f, back);
  EXPECT_EQ(back.len, 8);  // the union's member, held as a field: nothing dropped
  static_assert(brine::Wire<linux_can::can_frame>::kind == brine::WireKind::kStruct);
  static_assert(sizeof(linux_can::fb::can_frame) == sizeof(linux_can::can_frame));
  linux_can::canfd_frame fd{};
  fd.len = 64;
  fd.data.fill(0xa5);
  expect_bits(fd, through_pool(&linux_can::echo_canfd, fd));
}

TEST_F(CorpusTest, GlibcElfTypedefStructsAndEnum) {
  glibc_elf::SymbolTable t;
  t.header.e_ident = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  t.header.e_entry = kUInt64Max;
  t.header.e_shnum = 0xffff;
  t.symbols = {{.st_name = 1, .st_info = 0x12, .st_other = 0, .st_shndx = 0xfff1, .st_value = kUInt64Max,
                .st_size = 0},
               {}};
  t.types = {glibc_elf::STT_FUNC, glibc_elf::STT_FILE, glibc_elf::STT_NOTYPE};
  expect_bits(t, through_pool(&glibc_elf::echo_symbols, t));
  expect_bits(glibc_elf::SymbolTable{}, through_pool(&glibc_elf::echo_symbols, glibc_elf::SymbolTable{}));
  const brine::Bytes bytes = brine::dumps(t);
  const auto* fb = flatc_root<glibc_elf::fb::SymbolTable>(bytes, "GLIB");
  EXPECT_EQ(fb->header()->e_entry(), kUInt64Max);
  EXPECT_EQ(fb->symbols()->Get(0)->st_shndx(), 0xfff1);
  EXPECT_EQ(fb->types()->Get(1), glibc_elf::fb::elf_stt_t::STT_FILE);
  EXPECT_NE(schema_text("glibc_elf").find("struct Elf64_Sym {"), std::string::npos);
}

TEST_F(CorpusTest, LibpngTime) {
  const libpng::png_time t{.year = 65535, .month = 12, .day = 31, .hour = 23, .minute = 59, .second = 60};
  expect_bits(t, through_pool(&libpng::echo_png_time, t));
  EXPECT_EQ(brine::Wire<libpng::png_time>::kind, brine::WireKind::kStruct);
}

TEST_F(CorpusTest, LinuxTcpInfo) {
  linux_tcp::tcp_info t{};
  t.tcpi_state = 1;
  t.tcpi_snd_wscale = 15;
  t.tcpi_rcv_wscale = 7;
  t.tcpi_pacing_rate = kUInt64Max;
  t.tcpi_delivered_ce = 0xffffffffu;
  expect_bits(t, through_pool(&linux_tcp::echo_tcp_info, t));
}

TEST_F(CorpusTest, BenchmarkCpuInfo) {
  benchmark::CPUInfo info{};
  info.num_cpus = std::numeric_limits<int>::min();
  info.scaling = benchmark::CPUInfo::DISABLED;
  info.cycles_per_second = nan_with_payload(0x12345);
  info.caches = {{"Data", 1, 32768, 2}, {kWithNul, 0, 0, 0}, {"", -1, -1, -1}};
  info.load_avg = {-0.0, kInf, -kInf, nan_with_payload(1)};
  const auto back = through_pool(&benchmark::echo_cpuinfo, info);
  expect_bits(info, back);
  EXPECT_EQ(std::bit_cast<uint64_t>(back.cycles_per_second), std::bit_cast<uint64_t>(info.cycles_per_second));
  EXPECT_EQ(back.caches[1].type, kWithNul);
  expect_bits(benchmark::CPUInfo{}, through_pool(&benchmark::echo_cpuinfo, benchmark::CPUInfo{}));
}

trading::Order order() {
  trading::Order o;
  o.id = kUInt64Max;
  o.symbol = kWithNul;
  o.side = trading::Side::kSell;
  o.tif = trading::TimeInForce::kImmediateOrCancel;
  o.priority = trading::Priority::kLow;
  o.flags = trading::Flags::kVenueSpecific;
  o.price_ticks = kInt64Min;
  o.quantity = kUInt64Max;
  o.limit = -0.0;
  o.sent = std::chrono::nanoseconds(kInt64Min);
  o.tick_size = nan_with_payload(7);
  return o;
}

TEST_F(CorpusTest, TradingOrdersAndQuotes) {
  const trading::Order o = order();
  const auto back = through_pool(&trading::echo_order, o);
  expect_bits(o, back);
  EXPECT_EQ(back.flags, trading::Flags::kVenueSpecific);  // a uint64 enum value >= 2^63
  EXPECT_TRUE(std::signbit(*back.limit));
  expect_bits(trading::Order{}, through_pool(&trading::echo_order, trading::Order{}));

  trading::Book book;
  book.orders = {o, {}};
  book.quotes = {{.symbol = "", .bid = -kInf, .ask = kInf, .bid_size = nanf_with_payload(3), .ask_size = -0.0f,
                  .age = std::chrono::microseconds(-1)}};
  book.flag_history = {trading::Flags::kVenueSpecific, trading::Flags::kNone, trading::Flags::kPostOnly};
  expect_bits(book, through_pool(&trading::echo_book, book));
  expect_bits(trading::Book{}, through_pool(&trading::echo_book, trading::Book{}));

  const brine::Bytes bytes = brine::dumps(o);  // outlives the flatc pointer into it
  const auto* fb = flatc_root<trading::fb::Order>(bytes, "TRAD");
  EXPECT_EQ(fb->flags(), trading::fb::Flags::kVenueSpecific);
  EXPECT_EQ(fb->price_ticks(), kInt64Min);
  EXPECT_EQ(fb->sent(), kInt64Min);  // a duration is its count
  EXPECT_EQ(fb->priority(), trading::fb::Priority::kLow);
}

// Issue 12, item 3: an unsigned 64-bit enum is written unsigned and in ascending order.
TEST_F(CorpusTest, UnsignedEnumValuesStayUnsignedInTheSchema) {
  const std::string text = schema_text("trading");
  EXPECT_NE(text.find("  kPostOnly = 2,\n  kVenueSpecific = 9223372036854775808,\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  kNormal = 0,  // also kDefault\n"), std::string::npos) << text;  // item 10: an alias
  trading::Order o;
  o.priority = trading::Priority::kDefault;
  EXPECT_EQ(brine::loads<trading::Order>(brine::dumps(o)).priority, trading::Priority::kNormal);
}

// Issue 12, item 6: a noexcept function is sent like any other, by name, pointer, stub and
// brine::partial, and a lambda whose operator() is noexcept too.

TEST_F(CorpusTest, NoexceptCallablesTravel) {
  const trading::Quote q{.symbol = "X", .bid = 1, .ask = 3, .bid_size = 0, .ask_size = 0, .age = {}};
  EXPECT_EQ(pool_->submit(trading::mid, q).get(), 2.0);
  double (*fn)(const trading::Quote&) noexcept = &trading::mid;
  EXPECT_EQ(pool_->submit(fn, q).get(), 2.0);
  EXPECT_EQ(trading::tasks::mid::submit(*pool_, q).get(), 2.0);
  EXPECT_EQ(pool_->submit(brine::partial(fn, q)).get(), 2.0);
  EXPECT_EQ(pool_->submit([](double x) noexcept { return x * 3; }, 2.0).get(), 6.0);
}

// Issue 12, item 8: a parameter named `pool` (and one named `Pool`) does not break the stub.
TEST_F(CorpusTest, StubWithParametersNamedPool) {
  trading::Order o;
  o.price_ticks = 3;
  o.quantity = 4;
  EXPECT_EQ(trading::tasks::notional::submit(*pool_, o, int64_t{5}).get(), 60);
}

geojson::FeatureCollection features() {
  geojson::FeatureCollection c;
  geojson::Feature point;
  point.id = "p";
  point.geometry = geojson::Geometry{.type = geojson::GeometryType::kPoint,
                                     .rings = {{.positions = {{.lon = -0.0, .lat = 90, .alt = std::nullopt}}}}};
  point.properties = {{"name", kWithNul}, {"", ""}};
  geojson::Feature polygon;
  polygon.geometry = geojson::Geometry{
      .type = geojson::GeometryType::kMultiPolygon,
      .rings = {{.positions = {{1, 2, -kInf}, {3, 4, nan_with_payload(99)}, {1, 2, 0.0}}}, {.positions = {}}}};
  polygon.bbox = std::vector<double>{};
  geojson::Feature empty;  // disengaged geometry and bbox
  c.features = {point, polygon, empty};
  return c;
}

TEST_F(CorpusTest, GeoJsonFeatures) {
  const geojson::FeatureCollection c = features();
  const auto back = through_pool(&geojson::echo_features, c);
  expect_bits(c, back);
  EXPECT_FALSE(back.features[2].geometry.has_value());
  EXPECT_FALSE(back.features[2].bbox.has_value());
  ASSERT_TRUE(back.features[1].bbox.has_value());  // engaged and empty stays engaged
  EXPECT_TRUE(back.features[1].bbox->empty());
  EXPECT_FALSE(back.features[0].geometry->rings[0].positions[0].alt.has_value());
  const brine::Bytes bytes = brine::dumps(c);
  const auto* fb = flatc_root<geojson::fb::FeatureCollection>(bytes, "GEOJ");
  EXPECT_EQ(fb->features()->Get(1)->geometry()->type(), geojson::fb::GeometryType::kMultiPolygon);
  EXPECT_EQ(fb->features()->Get(0)->properties()->Get(0)->value()->str(), kWithNul);
}

map_tile::Tile tile() {
  map_tile::Tile t;
  t.header.magic = {'T', '\0', static_cast<char>(0xff), 'E'};
  t.header.version = 0xffffffffu;
  t.header.flags = {std::byte{0x80}, std::byte{0}, std::byte{1}, std::byte{0xff}};
  t.kind = std::byte{0x81};
  t.x = 1;
  t.zoom = 22;
  t.geometry = {9, 0, 0xffffffffu};
  t.blob = {std::byte{0}, std::byte{0xff}};
  t.name = kWithNul;
  t.overview.roads = 5;
  t.detail = {.roads = 6, .paths = 7};
  return t;
}

TEST_F(CorpusTest, MapTile) {
  const map_tile::Tile t = tile();
  const auto back = through_pool(&map_tile::echo_tile, t);
  expect_bits(t, back);
  EXPECT_EQ(back.header.flags[3], std::byte{0xff});
  EXPECT_EQ(back.kind, std::byte{0x81});
  EXPECT_EQ(back.detail.paths, 7u);
  expect_bits(map_tile::Tile{}, through_pool(&map_tile::echo_tile, map_tile::Tile{}));
  // Issue 12, items 4, 12, 13: Level<1>/Level<2> have their own names, std::array<uint8_t, 0> has
  // length 0, std::byte is a ubyte, plain char a byte.
  const std::string text = schema_text("map_tile");
  for (const char* line : {"struct Level_1 {", "struct Level_2 {", "struct Tile_Header {", "  magic: [byte:4];",
                           "  flags: [ubyte:4];", "  kind: ubyte (id: 7);", "reserved: [ubyte] (id: 5, brine_length: 0);"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  const brine::Bytes bytes = brine::dumps(t);
  const auto* fb = flatc_root<map_tile::fb::Tile>(bytes, "MAPT");
  EXPECT_EQ(fb->header()->magic()->Get(2), -1);
  EXPECT_EQ(fb->detail()->paths(), 7u);
  EXPECT_EQ(fb->kind(), 0x81);
  EXPECT_EQ(fb->reserved()->size(), 0u);
}

// Issue 12, item 11: the schema's defaults are the C++ default member initializers. A default
// value is left out of the buffer and read back as the default, by brine and by flatc; a zero
// that is not the default is written.
TEST_F(CorpusTest, WorldDefaultsAreTheCxxInitializers) {
  const map_tile::World defaults;
  const brine::Bytes bytes = brine::dumps(defaults);
  const auto* fb = flatc_root<map_tile::fb::World>(bytes, "MAPT");
  EXPECT_EQ(fb->gravity(), -9.81);
  EXPECT_EQ(fb->scale(), 0.5f);
  EXPECT_EQ(fb->sea_level(), -100);
  EXPECT_EQ(fb->mode(), map_tile::fb::Mode::kDrive);
  EXPECT_TRUE(fb->wrap());
  EXPECT_FALSE(reinterpret_cast<const flatbuffers::Table*>(fb)->CheckField(map_tile::fb::World::VT_GRAVITY));
  expect_bits(defaults, through_pool(&map_tile::echo_world, defaults));

  map_tile::World zero{.gravity = 0, .scale = -0.0f, .sea_level = 0, .mode = map_tile::Mode::kWalk, .wrap = false,
                       .tiles = {tile()}};
  const brine::Bytes zero_bytes = brine::dumps(zero);
  const auto* z = flatc_root<map_tile::fb::World>(zero_bytes, "MAPT");
  EXPECT_EQ(z->gravity(), 0.0);
  EXPECT_TRUE(std::signbit(z->scale()));
  EXPECT_EQ(z->sea_level(), 0);
  EXPECT_EQ(z->mode(), map_tile::fb::Mode::kWalk);
  EXPECT_FALSE(z->wrap());
  const auto back = through_pool(&map_tile::echo_world, zero);
  expect_bits(zero, back);
  EXPECT_EQ(back.gravity, 0.0);

  // A buffer written by flatc with every field absent reads as the C++ defaults in brine.
  flatbuffers::FlatBufferBuilder fbb;
  map_tile::fb::WorldBuilder b(fbb);
  fbb.Finish(b.Finish(), map_tile::fb::WorldIdentifier());
  const auto read = brine::loads<map_tile::World>(
      std::span<const std::byte>(reinterpret_cast<const std::byte*>(fbb.GetBufferPointer()), fbb.GetSize()));
  EXPECT_EQ(read.gravity, -9.81);
  EXPECT_EQ(read.scale, 0.5f);
  EXPECT_EQ(read.sea_level, -100);
  EXPECT_EQ(read.mode, map_tile::Mode::kDrive);
  EXPECT_TRUE(read.wrap);
}

TEST(CorpusSchemaTest, RuntimeSchemaDescribesTheSameBytesAsTheGeneratedOne) {
  using brine::testing::expect_same_bytes;
  expect_same_bytes<linux_can::can_frame>("linux_can");
  expect_same_bytes<glibc_elf::SymbolTable>("glibc_elf");
  expect_same_bytes<libpng::png_time>("libpng_time");
  expect_same_bytes<linux_tcp::tcp_info>("linux_tcp_info");
  expect_same_bytes<benchmark::CPUInfo>("benchmark_cpuinfo");
  expect_same_bytes<trading::Order>("trading");
  expect_same_bytes<trading::Book>("trading");
  expect_same_bytes<geojson::FeatureCollection>("geojson");
  expect_same_bytes<map_tile::Tile>("map_tile");
  expect_same_bytes<map_tile::World>("map_tile");
}

}  // namespace
