// The C++ side of the interop tests (issue 11, item 3), driven by interop_test.py:
//
//   interop_cpp write DIR   writes the schemas (brine::schema_of, FunctionInfo::schema) and the
//                           dumps (brine::dumps, brine::dumps_call) that Python and flatc read
//   interop_cpp read DIR    brine::loads the buffers Python wrote with flatc-generated code and
//                           checks every field; a buffer with a wrong identifier must be refused
//
// Exits 0 when every check holds, 1 (after printing each failed check) otherwise.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "brine/core/function_registry.h"
#include "brine/core/schema.h"
#include "brine/core/serialize.h"
#include "interop_types.h"

namespace interop {

double weigh(std::string tag, std::vector<Vec3> points, Vec3 origin, double scale, Inner inner) {
  double sum = static_cast<double>(tag.size() + inner.tags.size());
  for (const Vec3& p : points) sum += p.x - origin.x;
  return sum * scale;
}

}  // namespace interop

BRINE_REGISTER_AS(interop::weigh, "interop::weigh");

namespace {

using interop::Color;
using interop::Extras;
using interop::Inner;
using interop::Sample;
using interop::Vec3;

int failures = 0;

#define CHECK(cond)                                                                   \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::cerr << __FILE__ << ":" << __LINE__ << ": check failed: " #cond << "\n"; \
      ++failures;                                                                     \
    }                                                                                 \
  } while (0)

// Bitwise equality: -0.0 differs from 0.0, and nothing is "close enough".
template <class F>
bool same_bits(F a, F b) {
  return std::memcmp(&a, &b, sizeof(F)) == 0;
}

// The values interop_test.py expects (and writes back): keep both files in step.
Sample expected_sample() {
  Sample s;
  s.name = "brine \xe2\x86\x92 python \xe2\x9c\x93";  // "brine → python ✓"
  s.values = {3.5, -0.25, 0.1, 1e300, -0.0};
  s.points = {{1.5f, -2.25f, 0.1f, 7u}, {1e-3f, 65504.0f, -3.0e38f, 4294967295u}, {0.0f, 0.0f, 0.0f, 0u}};
  s.inner = Inner{"nested", -9007199254740993LL, {"a", "", "tag three"}};
  s.maybe = -42;
  s.missing = std::nullopt;
  s.note = "optional string";
  s.color = Color::kBlue;
  s.flag = true;
  s.big = std::numeric_limits<uint64_t>::max();
  return s;
}

Extras expected_extras() {
  Extras e;
  e.counts = {{"zeta", 1}, {"alpha", -2}, {"mid", 300}};
  e.choice = std::string("str");
  e.nested = {{1, 2}, {}, {3}};
  e.pair = {-5, "p"};
  e.arr = {1.5, 2.5, -3.5};
  e.bits = {true, false, true};
  return e;
}

// 1000 structs (16,000 bytes: past kBlobBufferThreshold, so brine aligns the block to 64).
std::vector<Vec3> expected_points() {
  std::vector<Vec3> out;
  for (uint32_t i = 0; i < 1000; ++i) {
    out.push_back({static_cast<float>(i) * 0.5f, -static_cast<float>(i), static_cast<float>(i) / 8.0f, i * 3u + 1u});
  }
  return out;
}

void write_file(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::vector<std::byte> read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream s;
  s << in.rdbuf();
  const std::string text = s.str();
  std::vector<std::byte> out(text.size());
  std::memcpy(out.data(), text.data(), text.size());
  return out;
}

int write_all(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  write_text(dir / "sample.fbs", brine::schema_of<Sample>());
  write_file(dir / "sample.bin", brine::dumps(expected_sample()));
  write_file(dir / "sample_default.bin", brine::dumps(Sample{}));

  write_text(dir / "extras.fbs", brine::schema_of<Extras>());
  write_file(dir / "extras.bin", brine::dumps(expected_extras()));

  write_text(dir / "points.fbs", brine::schema_of<std::vector<Vec3>>());
  write_file(dir / "points.bin", brine::dumps(expected_points()));

  write_text(dir / "vec3.fbs", brine::schema_of<Vec3>());
  write_file(dir / "vec3.bin", brine::dumps(Vec3{-1.5f, 2.0f, 0.1f, 12345u}));

  const brine::FunctionInfo* info = brine::FunctionRegistry::global().find_name("interop::weigh");
  if (info == nullptr || info->schema == nullptr) {
    std::cerr << "interop::weigh is not registered, or has no schema\n";
    return 1;
  }
  write_text(dir / "call.fbs", info->schema(*info));
  write_file(dir / "call.bin",
             brine::dumps_call(interop::weigh, std::string("call tag"),
                               std::vector<Vec3>{{1.0f, 2.0f, 3.0f, 10u}, {4.0f, 5.0f, 6.0f, 11u}},
                               Vec3{0.5f, 0.25f, 0.125f, 99u}, 2.5, Inner{"inner arg", 5, {"x"}}));
  // The round trip through brine itself, so a failure below points at the other reader.
  CHECK(brine::loads<Sample>(brine::dumps(expected_sample())) == expected_sample());
  CHECK(brine::loads<Extras>(brine::dumps(expected_extras())) == expected_extras());
  return failures == 0 ? 0 : 1;
}

void check_sample(const Sample& s) {
  const Sample e = expected_sample();
  CHECK(s.name == e.name);
  CHECK(s.values.size() == e.values.size());
  for (std::size_t i = 0; i < std::min(s.values.size(), e.values.size()); ++i) CHECK(same_bits(s.values[i], e.values[i]));
  CHECK(s.points.size() == e.points.size());
  for (std::size_t i = 0; i < std::min(s.points.size(), e.points.size()); ++i) {
    CHECK(same_bits(s.points[i].x, e.points[i].x));
    CHECK(same_bits(s.points[i].y, e.points[i].y));
    CHECK(same_bits(s.points[i].z, e.points[i].z));
    CHECK(s.points[i].id == e.points[i].id);
  }
  CHECK(s.inner == e.inner);
  CHECK(s.maybe == e.maybe);
  CHECK(!s.missing.has_value());
  CHECK(s.note == e.note);
  CHECK(s.color == Color::kBlue);
  CHECK(s.flag);
  CHECK(s.big == e.big);
  CHECK(s == e);
}

int read_all(const std::filesystem::path& dir) {
  // (b) A Sample written by Python's flatc-generated builder (no brine trailer).
  check_sample(brine::load<Sample>(dir / "py_sample.bin"));
  {
    const std::vector<std::byte> bytes = read_bytes(dir / "py_sample.bin");
    check_sample(brine::loads<Sample>(bytes));
  }
  // Every absent field reads as its default (the enum is left out: its schema default is 0,
  // Sample's member initializer kRed).
  {
    const Sample s = brine::load<Sample>(dir / "py_sample_sparse.bin");
    CHECK(s.name == "sparse");
    CHECK(s.values.empty() && s.points.empty());
    CHECK(s.inner == Inner{});
    CHECK(!s.maybe && !s.missing && !s.note);
    CHECK(!s.flag && s.big == 0);
  }
  // A vector of 1000 structs as the Box_ root: as a std::vector, and in place as a span.
  {
    const std::vector<std::byte> bytes = read_bytes(dir / "py_points.bin");
    const std::vector<Vec3> expected = expected_points();
    const auto owned = brine::loads<std::vector<Vec3>>(bytes);
    CHECK(owned == expected);
    const auto view = brine::loads<std::span<const Vec3>>(bytes);
    CHECK(view.size() == expected.size());
    CHECK(std::equal(view.begin(), view.end(), expected.begin(), expected.end()));
    // Zero-copy: the span points into the buffer Python wrote.
    CHECK(!view.empty() && reinterpret_cast<const std::byte*>(view.data()) > bytes.data() &&
          reinterpret_cast<const std::byte*>(view.data() + view.size()) <= bytes.data() + bytes.size());
  }
  // A single struct, boxed.
  {
    const Vec3 v = brine::load<Vec3>(dir / "py_vec3.bin");
    CHECK(same_bits(v.x, -1.5f) && same_bits(v.y, 2.0f) && same_bits(v.z, 0.1f) && v.id == 12345u);
  }
  // Extras as Python wrote them: the variant holds its double alternative.
  {
    Extras want = expected_extras();
    want.choice = 0.75;
    CHECK(brine::load<Extras>(dir / "py_extras.bin") == want);
  }
  // A variant table with two alternatives present: refused.
  try {
    (void)brine::load<Extras>(dir / "py_extras_two_choices.bin");
    std::cerr << "a variant holding two alternatives was accepted\n";
    ++failures;
  } catch (const brine::DecodeError& e) {
    CHECK(std::string(e.what()).find("alternatives") != std::string::npos);
  }
  // Python's buffer with another type's identifier: refused, never decoded as a Sample.
  try {
    (void)brine::load<Sample>(dir / "py_sample_wrong_id.bin");
    std::cerr << "a buffer with a wrong file identifier was accepted as a Sample\n";
    ++failures;
  } catch (const brine::DecodeError& e) {
    CHECK(std::string(e.what()).find("identifier") != std::string::npos);
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: interop_cpp write|read DIR\n";
    return 2;
  }
  const std::string mode = argv[1];
  try {
    if (mode == "write") return write_all(argv[2]);
    if (mode == "read") return read_all(argv[2]);
  } catch (const std::exception& e) {
    std::cerr << "interop_cpp " << mode << ": " << e.what() << "\n";
    return 1;
  }
  std::cerr << "unknown mode " << mode << "\n";
  return 2;
}
