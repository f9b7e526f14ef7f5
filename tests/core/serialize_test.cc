#include "brine/core/serialize.h"

#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <numeric>
#include <sstream>

extern char** environ;

namespace {

enum class Mode : uint16_t { kFast = 3, kExact = 900 };

struct Sensor {
  std::string name;
  std::vector<double> samples;
  std::map<std::string, int> counts;
  std::optional<Mode> mode;
  bool operator==(const Sensor&) const = default;
};

struct Celsius {
  double value = 0;
  bool operator==(const Celsius&) const = default;
};

double scaled_sum(std::span<const double> xs, double scale) {
  double sum = 0;
  for (double x : xs) sum += x;
  return sum * scale;
}

std::string greet(const std::string& who, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += "hello " + who + ";";
  return out;
}

int calls_seen = 0;
void count_calls(int n) { calls_seen += n; }

int unregistered(int x) { return x; }

BRINE_REGISTER_AS(scaled_sum, "serialize_test.scaled_sum");
BRINE_REGISTER_AS(greet, "serialize_test.greet");
BRINE_REGISTER_AS(count_calls, "serialize_test.count_calls");

// A functor whose state travels through its reduce hook.
struct Clamp {
  double low = 0, high = 0;
  double operator()(double x) const { return x < low ? low : x > high ? high : x; }
};

}  // namespace

template <>
struct brine::Reducer<Clamp> : brine::Fields<&Clamp::low, &Clamp::high> {};

namespace {
BRINE_REGISTER_FUNCTOR(Clamp);

}  // namespace

template <>
struct brine::Reducer<Sensor>
    : brine::Fields<&Sensor::name, &Sensor::samples, &Sensor::counts, &Sensor::mode> {};

template <>
struct brine::Reducer<Celsius> {
  using As = double;
  static double reduce(const Celsius& c) { return c.value; }
  static Celsius rebuild(double v) { return Celsius{v}; }
};

namespace {

constexpr const char* kChildCallEnv = "BRINE_SERIALIZE_TEST_CALL";

// A file path in the temp directory, unique per process and object, removed on destruction.
class TempFile {
 public:
  TempFile() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("brine-serialize-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".brn");
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

template <class T>
void expect_round_trip(const T& v) {
  const std::vector<std::byte> bytes = brine::dumps(v);
  EXPECT_EQ(brine::loads<T>(bytes), v) << brine::type_signature<T>();
}

// The message of the DecodeError `f` throws; a test failure if it throws none.
template <class F>
std::string decode_error(F f) {
  try {
    f();
  } catch (const brine::DecodeError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a brine::DecodeError";
  return {};
}

TEST(SerializeTest, EveryBuiltinRoundTrips) {
  expect_round_trip(true);
  expect_round_trip('x');
  expect_round_trip(std::numeric_limits<int8_t>::min());
  expect_round_trip(std::numeric_limits<uint16_t>::max());
  expect_round_trip(std::numeric_limits<int32_t>::min());
  expect_round_trip(std::numeric_limits<uint64_t>::max());
  expect_round_trip(-0.0f);
  expect_round_trip(std::numeric_limits<double>::denorm_min());
  EXPECT_TRUE(std::isnan(brine::loads<double>(brine::dumps(std::numeric_limits<double>::quiet_NaN()))));
  expect_round_trip(Mode::kExact);
  expect_round_trip(std::string("with\0nul", 8));
  expect_round_trip(std::vector<double>{1.5, -2.25, 1e300});
  expect_round_trip(std::vector<int64_t>(5000, -7));  // above kBlobBufferThreshold: in the buffer table
  expect_round_trip(std::vector<uint8_t>{});
  expect_round_trip(std::vector<bool>{true, false, true});
  expect_round_trip(std::vector<std::string>{"a", "", "ccc"});
  expect_round_trip(std::array<float, 3>{1, 2, 3});
  expect_round_trip(std::array<std::string, 2>{"a", "b"});
  expect_round_trip(std::pair<int, std::string>{7, "seven"});
  expect_round_trip(std::tuple<int, double, std::string, std::vector<int64_t>>{1, 2.5, "x", {1, 2, 3}});
  expect_round_trip(std::tuple<>{});
  expect_round_trip(std::optional<std::string>{});
  expect_round_trip(std::optional<std::string>{"present"});
  expect_round_trip(std::variant<int, std::string>{std::string("v")});
  expect_round_trip(std::variant<int, std::string>{42});
  expect_round_trip(std::map<std::string, std::vector<int>>{{"a", {1}}, {"b", {2, 3}}});
  expect_round_trip(std::unordered_map<int, double>{{1, 1.5}, {2, 2.5}});

  const std::vector<std::byte> text = brine::dumps(std::string("view me"));
  EXPECT_EQ(brine::loads<std::string_view>(text), "view me");
}

TEST(SerializeTest, UserTypesWithHooksRoundTrip) {
  expect_round_trip(Sensor{"probe", {1, 2, 3}, {{"hits", 4}}, Mode::kFast});
  expect_round_trip(Sensor{"big", std::vector<double>(4096, 0.5), {}, std::nullopt});
  expect_round_trip(std::vector<Celsius>{{-40}, {100}});
}

TEST(SerializeTest, LargeArraysAre64ByteAlignedAndDecodeAsSpansIntoTheBlob) {
  std::vector<double> xs(2048);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<double>(i) / 3;
  const std::vector<double> small{1, 2, 3};
  const brine::Bytes blobs[] = {brine::dumps(xs), brine::dumps(brine::ref(small))};
  for (const brine::Bytes& bytes : blobs) {
    const auto span = brine::loads<std::span<const double>>(bytes);
    const auto* p = reinterpret_cast<const std::byte*>(span.data());
    ASSERT_TRUE(p >= bytes.data() && p + span.size_bytes() <= bytes.data() + bytes.size());
    EXPECT_EQ((p - bytes.data()) % brine::kBlobBufferAlignment, 0);
  }
  EXPECT_TRUE(std::ranges::equal(brine::loads<std::span<const double>>(brine::dumps(xs)), xs));
  EXPECT_EQ(brine::loads<std::vector<double>>(brine::dumps(brine::copy(xs))), xs);
}

// A loop of large dumps writes into the buffer the previous one freed (pages already mapped),
// never into one still in use.
TEST(SerializeTest, ALargeDumpReusesTheBufferOfAFreedOne) {
  std::vector<double> xs(std::size_t{1} << 19);  // 4 MiB
  std::iota(xs.begin(), xs.end(), 0.0);
  (void)brine::dumps(xs);  // a dump of this size before: the next ones reserve the same room
  std::uintptr_t first = 0;
  {
    const brine::Bytes a = brine::dumps(xs);
    const brine::Bytes held = brine::dumps(xs);
    EXPECT_NE(a.data(), held.data());
    first = reinterpret_cast<std::uintptr_t>(a.data());
  }
  xs[7] = -1;
  const brine::Bytes b = brine::dumps(xs);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.data()), first);
  EXPECT_EQ(brine::loads<std::vector<double>>(b), xs);
  const brine::Bytes c = brine::dumps(std::vector<double>(10, 1.5));  // small: its own buffer
  EXPECT_NE(c.data(), b.data());
  EXPECT_EQ(brine::loads<std::vector<double>>(c), std::vector<double>(10, 1.5));
}

// A dump starts from its type's precomputed tail (DumpInfo and trailer, built once per type):
// the bytes are those the DumpInfo written afresh gives, and a loop of small dumps on one thread
// reuses the buffer it freed.
TEST(SerializeTest, ADumpFromItsTypesTailHasTheBytesOfOneWrittenAfresh) {
  const Sensor sensor{"probe", {1.5, -2.0}, {{"a", 1}}, Mode::kExact};
  const brine::Bytes from_tail = brine::dumps(sensor);
  const auto& facts = brine::detail::facts_of<Sensor>();
  brine::detail::DumpWriter fresh(nullptr, brine::detail::DumpFacts{facts.name, facts.schema.descriptor, {}, 0, 0, {}});
  const brine::Bytes afresh = fresh.finish(brine::detail::write_root(fresh.encoder(), sensor), facts.schema.identifier);
  EXPECT_EQ(from_tail, afresh);
  EXPECT_EQ(brine::loads<Sensor>(afresh), sensor);

  std::uintptr_t freed = 0;
  {
    const brine::Bytes first = brine::dumps(sensor);
    freed = reinterpret_cast<std::uintptr_t>(first.data());
  }
  const brine::Bytes again = brine::dumps(sensor);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(again.data()), freed);
  EXPECT_EQ(brine::loads<Sensor>(again), sensor);
}

TEST(SerializeTest, PerCallReducersChangeTheEncoding) {
  brine::ReducerTable table;
  // An override changes values, never the layout: int stays an int (offset by 1000 here).
  table.add<int, int>([](const int& v) { return v + 1000; }, [](const int& v) { return v - 1000; });
  table.add<Celsius, double>([](const Celsius& c) { return c.value * 9 / 5 + 32; },
                     [](const double& f) {
                       return Celsius{(f - 32) * 5 / 9};
                     });
  using Reading = std::tuple<int, Celsius>;
  const Reading reading{12, Celsius{100}};
  const auto plain = brine::dumps(reading);
  const auto custom = brine::dumps(reading, &table);
  EXPECT_NE(plain, custom);
  EXPECT_EQ(brine::loads<Reading>(custom, &table), reading);
  EXPECT_EQ(brine::loads<Celsius>(brine::dumps(Celsius{100}, &table)), Celsius{212});  // global hook reads F
  // Without the table the same bytes read as the overridden values: the layout is shared.
  EXPECT_EQ(std::get<0>(brine::loads<Reading>(custom)), 1012);
}

TEST(SerializeTest, DumpAndLoadThroughFilesAndStreams) {
  const Sensor s{"disk", std::vector<double>(1000, 2.5), {{"n", 1}}, Mode::kExact};
  TempFile file;
  brine::dump(s, file.path());
  EXPECT_EQ(brine::load<Sensor>(file.path()), s);
  brine::dump(std::string("replaced"), file.path());
  EXPECT_EQ(brine::load<std::string>(file.path()), "replaced");

  std::stringstream stream;
  brine::dump(s, stream);
  EXPECT_EQ(brine::load<Sensor>(stream), s);

  EXPECT_THROW(brine::load<int>(file.path().string() + ".missing"), std::filesystem::filesystem_error);
  EXPECT_THROW(brine::load_mapped<int>(file.path().string() + ".missing"), std::filesystem::filesystem_error);
}

// Resident set size of this process, in bytes.
std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t total = 0, resident = 0;
  statm >> total >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

TEST(SerializeTest, OneGiBArrayLoadsMappedWithoutCopying) {
#if defined(__SANITIZE_THREAD__)
  // Single-threaded, and writing 1 GiB through ThreadSanitizer's shadow memory outlasts the
  // test's time limit on a 2-CPU machine: nothing here for TSan to find.
  GTEST_SKIP() << "1 GiB through ThreadSanitizer's shadow memory; single-threaded";
#endif
  constexpr std::size_t kSize = std::size_t{1} << 30;
  constexpr std::size_t kStride = kSize / 16;
  // The source is anonymous zero pages: only the marked ones become resident.
  void* source = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(source, MAP_FAILED);
  auto* bytes = static_cast<uint8_t*>(source);
  for (std::size_t i = 0; i < kSize; i += kStride) bytes[i] = static_cast<uint8_t>(i / kStride + 1);
  bytes[kSize - 1] = 0xAB;
  TempFile file;
  brine::dump(std::span<const uint8_t>(bytes, kSize), file.path());
  ::munmap(source, kSize);

  const std::size_t before = resident_bytes();
  brine::Mapped<std::span<const uint8_t>> mapped = brine::load_mapped<std::span<const uint8_t>>(file.path());
  const std::span<const uint8_t> span = *mapped;
  ASSERT_EQ(span.size(), kSize);
  const auto* p = reinterpret_cast<const std::byte*>(span.data());
  const std::span<const std::byte> mapping = mapped.mapping();
  EXPECT_TRUE(p >= mapping.data() && p + kSize <= mapping.data() + mapping.size()) << "the span must point into the mapping";
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % brine::kBlobBufferAlignment, 0u);
  for (std::size_t i = 0; i < kSize; i += kStride) ASSERT_EQ(span[i], i / kStride + 1);
  EXPECT_EQ(span[kSize - 1], 0xAB);
  EXPECT_EQ(span[kSize / 2 + 1], 0);
  EXPECT_LT(resident_bytes(), before + (64u << 20)) << "verifying and reading must touch only a few pages";

  const brine::Mapped<std::span<const uint8_t>> moved = std::move(mapped);
  EXPECT_EQ(moved->data(), span.data());
  EXPECT_EQ(moved.mapping().data(), mapping.data());
}

TEST(SerializeTest, BlobsPastTheFlatBuffersLimitAreRefusedBeforeCopying) {
  constexpr std::size_t kSize = std::size_t{2} << 30;
  void* source = ::mmap(nullptr, kSize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(source, MAP_FAILED);
  EXPECT_THROW((void)brine::dumps(std::span<const uint8_t>(static_cast<const uint8_t*>(source), kSize)),
               brine::NotSerializable);
  ::munmap(source, kSize);
}

// ---- calls --------------------------------------------------------------------------------------

std::vector<double> ramp(std::size_t n) {
  std::vector<double> xs(n);
  for (std::size_t i = 0; i < n; ++i) xs[i] = static_cast<double>(i) * 0.25;
  return xs;
}

TEST(SerializeTest, DumpedCallsLoadAndRunInThisProcess) {
  const std::vector<double> xs = ramp(1000);  // 8000 bytes: travels in the buffer table
  const brine::Call call = brine::loads_call(brine::dumps_call(&scaled_sum, xs, 2.0));
  EXPECT_EQ(call.name(), "serialize_test.scaled_sum");
  EXPECT_EQ(call.run<double>(), scaled_sum(xs, 2.0));
  EXPECT_EQ(call.run<double>(), scaled_sum(xs, 2.0)) << "a call runs any number of times";

  TempFile file;
  brine::dump_call(file.path(), greet, "you", 2);
  EXPECT_EQ(brine::load_call(file.path()).run<std::string>(), "hello you;hello you;");

  brine::loads_call(brine::dumps_call(count_calls, 5)).run<void>();
  EXPECT_EQ(calls_seen, 5);
}

TEST(SerializeTest, ClosuresByNameDumpAndLambdasByValueRefuse) {
  const std::vector<double> xs = ramp(700);
  const brine::Call partial = brine::loads_call(brine::dumps_call(brine::partial(scaled_sum, xs), 4.0));
  EXPECT_EQ(partial.name(), "serialize_test.scaled_sum");
  EXPECT_EQ(partial.run<double>(), scaled_sum(xs, 4.0));

  const brine::Call functor = brine::loads_call(brine::dumps_call(Clamp{-1, 1}, 7.5));
  EXPECT_EQ(functor.name(), "Clamp");
  EXPECT_EQ(functor.run<double>(), 1.0);

  int k = 3;  // not const: a captured constant needs no capture
  try {
    (void)brine::dumps_call([k](int x) { return x * k; }, 14);
    ADD_FAILURE() << "expected brine::NotSerializable";
  } catch (const brine::NotSerializable& e) {
    EXPECT_NE(std::string(e.what()).find("BRINE_REGISTER_FUNCTOR"), std::string::npos) << e.what();
  }
}

TEST(SerializeTest, CallsCheckRegistrationKindAndResultType) {
  try {
    (void)brine::dumps_call(unregistered, 1);
    ADD_FAILURE() << "expected brine::NotRegistered";
  } catch (const brine::NotRegistered& e) {
    EXPECT_NE(std::string(e.what()).find("(i32)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("BRINE_REGISTER"), std::string::npos) << e.what();
  }
  const auto call = brine::dumps_call(&scaled_sum, std::vector<double>{1, 2}, 1.0);
  const std::string wrong_result = decode_error([&] { (void)brine::loads_call(call).run<int>(); });
  EXPECT_NE(wrong_result.find("returns f64"), std::string::npos) << wrong_result;
  EXPECT_NE(wrong_result.find("requested i32"), std::string::npos) << wrong_result;
  const std::string value_as_call = decode_error([] { (void)brine::loads_call(brine::dumps(1.0)); });
  EXPECT_NE(value_as_call.find("not a call"), std::string::npos) << value_as_call;
  const std::string call_as_value = decode_error([&] { (void)brine::loads<double>(call); });
  EXPECT_NE(call_as_value.find("brine::load_call"), std::string::npos) << call_as_value;
}

// Runs in a process started by the next test, which names the call's file in kChildCallEnv.
TEST(SerializeChildTest, RunsADumpedCall) {
  const char* path = std::getenv(kChildCallEnv);
  if (path == nullptr) GTEST_SKIP() << "runs only as the child of SerializeTest.CallDumpedByOneProcessRunsInAFreshOne";
  const brine::Call call = brine::load_call(path);
  ASSERT_EQ(call.name(), "serialize_test.scaled_sum");
  std::printf("brine-child-result=%.17g\n", call.run<double>());
}

TEST(SerializeTest, CallDumpedByOneProcessRunsInAFreshOne) {
  const std::vector<double> xs = ramp(1000);
  TempFile file;
  brine::dump_call(file.path(), brine::partial(scaled_sum, xs), 3.0);  // bound state in the buffer table

  const std::string exe = std::filesystem::read_symlink("/proc/self/exe");
  const std::string filter = "--gtest_filter=SerializeChildTest.RunsADumpedCall";
  const std::string env = std::string(kChildCallEnv) + "=" + file.path().string();
  std::vector<char*> argv{const_cast<char*>(exe.c_str()), const_cast<char*>(filter.c_str()), nullptr};
  std::vector<char*> envp{const_cast<char*>(env.c_str())};
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  envp.push_back(nullptr);

  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ASSERT_EQ(spawned, 0) << std::strerror(spawned);
  std::string output;
  char chunk[4096];
  for (ssize_t n; (n = ::read(out[0], chunk, sizeof chunk)) != 0;) {
    if (n > 0) output.append(chunk, static_cast<std::size_t>(n));
    else if (errno != EINTR) break;
  }
  ::close(out[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  char expected[64];
  std::snprintf(expected, sizeof expected, "brine-child-result=%.17g\n", scaled_sum(xs, 3.0));
  EXPECT_NE(output.find(expected), std::string::npos) << output;
  EXPECT_NE(output.find("[  PASSED  ] 1 test"), std::string::npos) << output;
}

// ---- verification -------------------------------------------------------------------------------

TEST(SerializeTest, EachCheckHasItsOwnError) {
  const std::vector<std::byte> blob = brine::dumps(std::string("payload"));

  EXPECT_NE(decode_error([] { (void)brine::loads<int>({}); }).find("size check"), std::string::npos);
  const std::span<const std::byte> seven(blob.data(), 7);
  EXPECT_NE(decode_error([&] { (void)brine::loads<int>(seven); }).find("8-byte"), std::string::npos);

  std::vector<std::byte> shifted(blob.size() + 1);
  std::memcpy(shifted.data() + 1, blob.data(), blob.size());
  const std::span<const std::byte> misaligned(shifted.data() + 1, blob.size());
  EXPECT_NE(decode_error([&] { (void)brine::loads<std::string>(misaligned); }).find("alignment check"), std::string::npos);

  std::vector<std::byte> task_id = blob;
  std::memcpy(task_id.data() + 4, "BRT1", 4);
  const std::string identifier = decode_error([&] { (void)brine::loads<std::string>(task_id); });
  EXPECT_NE(identifier.find("identifier check: bytes 4..7 hold \"BRT1\""), std::string::npos) << identifier;

  for (uint32_t version : {1u, 3u}) {
    // Rewrite the format version inside the dump info brine appended.
    std::vector<std::byte> old = brine::dumps(7);
    uint32_t back = 0;
    std::memcpy(&back, old.data() + old.size() - 8, 4);
    const auto* info = reinterpret_cast<const flatbuffers::Table*>(old.data() + old.size() - back);
    auto* field = const_cast<uint8_t*>(info->GetAddressOf(brine::fb::DumpInfo::VT_FORMAT_VERSION));
    ASSERT_NE(field, nullptr);
    std::memcpy(field, &version, 4);
    const std::string message = decode_error([&] { (void)brine::loads<int>(old); });
    EXPECT_NE(message.find("format version check: it has format version " + std::to_string(version)),
              std::string::npos)
        << message;
  }

  // Point the string's length past the end: only the verifier can tell.
  std::vector<std::byte> long_string = blob;
  const auto view = brine::loads<std::string_view>(long_string);
  const std::size_t length_at = static_cast<std::size_t>(reinterpret_cast<const std::byte*>(view.data()) - long_string.data()) - 4;
  const uint32_t huge = 0x10000;
  std::memcpy(long_string.data() + length_at, &huge, 4);
  const std::string verifier = decode_error([&] { (void)brine::loads<std::string>(long_string); });
  EXPECT_NE(verifier.find("verifier check: its root table failed verification"), std::string::npos) << verifier;

  const std::string type = decode_error([] { (void)brine::loads<std::vector<int>>(brine::dumps(std::map<int, int>{})); });
  EXPECT_NE(type.find("type check: it holds a value of type " + brine::type_signature<std::map<int, int>>()), std::string::npos) << type;
  EXPECT_NE(type.find("not the requested " + brine::type_signature<std::vector<int>>()), std::string::npos) << type;
}

// Every truncation and every single-byte corruption (XOR 0xFF) of `sample` is an error of type E
// or loads a value; a truncation that loads (only padding was cut) loads the original value.
// `load` returns whether it loaded the original. Nothing else may happen (run under ASan+UBSan).
template <class E, class Load>
void expect_corruption_is_caught(const std::vector<std::byte>& sample, Load load) {
  ASSERT_TRUE(load(sample));
  std::vector<std::byte> copy;
  for (std::size_t n = 0; n < sample.size(); ++n) {
    copy.assign(sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(n));
    try {
      EXPECT_TRUE(load(copy)) << "truncated to " << n << " of " << sample.size() << " bytes";
    } catch (const brine::DecodeError&) {
    }
  }
  int rejected = 0;
  for (std::size_t i = 0; i < sample.size(); ++i) {
    copy = sample;
    copy[i] ^= std::byte{0xFF};
    try {
      load(copy);
    } catch (const E&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
  ::testing::Test::RecordProperty("corruptions_rejected", rejected);
}

TEST(SerializeTest, CorruptValuesAreErrorsNeverCrashes) {
  using Sample = std::tuple<Sensor, std::variant<int, std::string>, std::vector<bool>, std::vector<uint16_t>>;
  const Sample sample{Sensor{"s", {1.5, 2.5}, {{"k", 3}}, Mode::kFast}, std::string("alt"), {true, false},
                      std::vector<uint16_t>(brine::kBlobBufferThreshold / 2, 9)};
  expect_corruption_is_caught<brine::DecodeError>(
      brine::dumps(sample), [&](std::span<const std::byte> b) { return brine::loads<Sample>(b) == sample; });
}

TEST(SerializeTest, CorruptCallsAreErrorsNeverCrashes) {
  const std::vector<double> xs = ramp(600);
  expect_corruption_is_caught<brine::Error>(brine::dumps_call(&scaled_sum, xs, 0.5), [&](std::span<const std::byte> b) {
    return brine::loads_call(b).run<double>() == scaled_sum(xs, 0.5);
  });
}

}  // namespace
