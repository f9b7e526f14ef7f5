// brine's dumps read by C++ that `flatc --cpp` generated from brine::schema_of, with the
// generated verifier (issue 11, item 2: "the generated verifier accepts brine's data and
// nothing else"). No brine header here: only flatbuffers and the generated code. Built once per
// schema (one generated header per executable: the schemas share types such as Vec3):
//
//   interop_flatc_cpp_<schema> DIR     reads DIR/<schema>.bin (written by `interop_cpp write`)
//
// Exits 0 when every check holds, 1 otherwise.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "flatbuffers/flatbuffers.h"

#if defined(INTEROP_READ_sample)
#include "sample_generated.h"
#elif defined(INTEROP_READ_points)
#include "points_generated.h"
#elif defined(INTEROP_READ_vec3)
#include "vec3_generated.h"
#elif defined(INTEROP_READ_call)
#include "call_generated.h"
#elif defined(INTEROP_READ_extras)
#include "extras_generated.h"
#else
#error "build with INTEROP_READ_<schema>"
#endif

namespace {

int failures = 0;

#define CHECK(cond)                                                                   \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::cerr << __FILE__ << ":" << __LINE__ << ": check failed: " #cond << "\n"; \
      ++failures;                                                                     \
    }                                                                                 \
  } while (0)

// A buffer that fails its verifier is never read.
#define REQUIRE(cond)                                                                    \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::cerr << __FILE__ << ":" << __LINE__ << ": required check failed: " #cond << "\n"; \
      return 1;                                                                          \
    }                                                                                    \
  } while (0)

template <class F>
bool same_bits(F a, F b) {
  return std::memcmp(&a, &b, sizeof(F)) == 0;
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "cannot read " << path << "\n";
    std::exit(1);
  }
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <class V>
bool is_vec3(const V* v, float x, float y, float z, uint32_t id) {
  return v != nullptr && same_bits(v->x(), x) && same_bits(v->y(), y) && same_bits(v->z(), z) && v->id() == id;
}

[[maybe_unused]] bool str_is(const flatbuffers::String* s, const std::string& want) { return s != nullptr && s->str() == want; }

template <class Inner>
void check_inner(const Inner* inner, const std::string& label, int64_t count, const std::vector<std::string>& tags) {
  CHECK(inner != nullptr);
  if (inner == nullptr) return;
  CHECK(str_is(inner->label(), label));
  CHECK(inner->count() == count);
  CHECK(inner->tags() != nullptr && inner->tags()->size() == tags.size());
  if (inner->tags() == nullptr) return;
  for (flatbuffers::uoffset_t i = 0; i < inner->tags()->size() && i < tags.size(); ++i) {
    CHECK(inner->tags()->Get(i)->str() == tags[i]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: interop_flatc_cpp_<schema> DIR\n";
    return 2;
  }
  const std::string dir = argv[1];
  auto verifier = [](const std::vector<uint8_t>& b) { return flatbuffers::Verifier(b.data(), b.size()); };

#if defined(INTEROP_READ_sample)
  using namespace interop::fb;
  const std::vector<uint8_t> bytes = read_file(dir + "/sample.bin");
  flatbuffers::Verifier v = verifier(bytes);
  CHECK(SampleBufferHasIdentifier(bytes.data()));
  REQUIRE(VerifySampleBuffer(v));
  const Sample* s = GetSample(bytes.data());
  CHECK(str_is(s->name(), "brine \xe2\x86\x92 python \xe2\x9c\x93"));
  const std::vector<double> values = {3.5, -0.25, 0.1, 1e300, -0.0};
  CHECK(s->values() != nullptr && s->values()->size() == values.size());
  for (flatbuffers::uoffset_t i = 0; s->values() != nullptr && i < s->values()->size() && i < values.size(); ++i) {
    CHECK(same_bits(s->values()->Get(i), values[i]));
  }
  CHECK(s->points() != nullptr && s->points()->size() == 3);
  if (s->points() != nullptr && s->points()->size() == 3) {
    CHECK(is_vec3(s->points()->Get(0), 1.5f, -2.25f, 0.1f, 7u));
    CHECK(is_vec3(s->points()->Get(1), 1e-3f, 65504.0f, -3.0e38f, 4294967295u));
    CHECK(is_vec3(s->points()->Get(2), 0.0f, 0.0f, 0.0f, 0u));
  }
  check_inner(s->inner(), "nested", -9007199254740993LL, {"a", "", "tag three"});
  CHECK(s->maybe().has_value() && *s->maybe() == -42);
  CHECK(!s->missing().has_value());
  CHECK(str_is(s->note(), "optional string"));
  CHECK(s->color() == 200);
  CHECK(s->flag());
  CHECK(s->big() == std::numeric_limits<uint64_t>::max());

  const std::vector<uint8_t> defaults = read_file(dir + "/sample_default.bin");
  flatbuffers::Verifier dv = verifier(defaults);
  REQUIRE(VerifySampleBuffer(dv));
  const Sample* d = GetSample(defaults.data());
  CHECK(!d->maybe().has_value() && !d->missing().has_value() && d->note() == nullptr);
  CHECK(d->color() == 1 && !d->flag() && d->big() == 0);

  // Nothing else: another type's dump fails this verifier (its identifier differs).
  const std::vector<uint8_t> other = read_file(dir + "/points.bin");
  flatbuffers::Verifier ov = verifier(other);
  CHECK(!VerifySampleBuffer(ov));
#elif defined(INTEROP_READ_points)
  using namespace brine::fb;
  const std::vector<uint8_t> bytes = read_file(dir + "/points.bin");
  flatbuffers::Verifier v = verifier(bytes);
  REQUIRE(VerifyBox_Vector_interop_fb_Vec3Buffer(v));
  const auto* points = GetBox_Vector_interop_fb_Vec3(bytes.data())->value();
  CHECK(points != nullptr && points->size() == 1000);
  for (uint32_t i = 0; points != nullptr && i < points->size() && i < 1000; ++i) {
    CHECK(is_vec3(points->Get(i), static_cast<float>(i) * 0.5f, -static_cast<float>(i), static_cast<float>(i) / 8.0f,
                  i * 3u + 1u));
  }
  // brine starts a vector of 4096 bytes or more 64-byte aligned (serialize.h).
  CHECK(points != nullptr && (points->Data() - bytes.data()) % 64 == 0);
  const std::vector<uint8_t> other = read_file(dir + "/sample.bin");
  flatbuffers::Verifier ov = verifier(other);
  CHECK(!VerifyBox_Vector_interop_fb_Vec3Buffer(ov));
#elif defined(INTEROP_READ_vec3)
  using namespace brine::fb;
  const std::vector<uint8_t> bytes = read_file(dir + "/vec3.bin");
  flatbuffers::Verifier v = verifier(bytes);
  REQUIRE(VerifyBox_interop_fb_Vec3Buffer(v));
  CHECK(is_vec3(GetBox_interop_fb_Vec3(bytes.data())->value(), -1.5f, 2.0f, 0.1f, 12345u));
#elif defined(INTEROP_READ_call)
  using namespace interop::fb;
  const std::vector<uint8_t> bytes = read_file(dir + "/call.bin");
  flatbuffers::Verifier v = verifier(bytes);
  REQUIRE(Verifyweigh_argsBuffer(v));
  const weigh_args* call = Getweigh_args(bytes.data());
  CHECK(str_is(call->arg0(), "call tag"));
  CHECK(call->arg1() != nullptr && call->arg1()->size() == 2);
  if (call->arg1() != nullptr && call->arg1()->size() == 2) {
    CHECK(is_vec3(call->arg1()->Get(0), 1.0f, 2.0f, 3.0f, 10u));
    CHECK(is_vec3(call->arg1()->Get(1), 4.0f, 5.0f, 6.0f, 11u));
  }
  CHECK(is_vec3(call->arg2(), 0.5f, 0.25f, 0.125f, 99u));
  CHECK(same_bits(call->arg3(), 2.5));
  check_inner(call->arg4(), "inner arg", 5, {"x"});
#elif defined(INTEROP_READ_extras)
  using namespace interop::fb;
  const std::vector<uint8_t> bytes = read_file(dir + "/extras.bin");
  flatbuffers::Verifier v = verifier(bytes);
  REQUIRE(VerifyExtrasBuffer(v));
  const Extras* e = GetExtras(bytes.data());
  // The map: key/value tables sorted by key, so flatc's binary search finds every key.
  const auto* counts = e->counts();
  REQUIRE(counts != nullptr);
  CHECK(counts->size() == 3);
  CHECK(counts->LookupByKey("alpha") != nullptr && counts->LookupByKey("alpha")->value() == -2);
  CHECK(counts->LookupByKey("mid") != nullptr && counts->LookupByKey("mid")->value() == 300);
  CHECK(counts->LookupByKey("zeta") != nullptr && counts->LookupByKey("zeta")->value() == 1);
  CHECK(counts->LookupByKey("absent") == nullptr);
  // The variant: exactly its string alternative (field 1) present.
  CHECK(e->choice() != nullptr && !e->choice()->f0().has_value() && str_is(e->choice()->f1(), "str") &&
        !e->choice()->f2().has_value());
  CHECK(e->nested() != nullptr && e->nested()->size() == 3);
  if (e->nested() != nullptr && e->nested()->size() == 3) {
    const std::vector<std::vector<int32_t>> nested = {{1, 2}, {}, {3}};
    for (flatbuffers::uoffset_t i = 0; i < 3; ++i) {
      const auto* inner = e->nested()->Get(i)->value();
      CHECK(inner != nullptr && std::vector<int32_t>(inner->begin(), inner->end()) == nested[i]);
    }
  }
  CHECK(e->pair() != nullptr && e->pair()->first() == -5 && str_is(e->pair()->second(), "p"));
  CHECK(e->arr() != nullptr && std::vector<double>(e->arr()->begin(), e->arr()->end()) ==
                                   std::vector<double>({1.5, 2.5, -3.5}));
  CHECK(e->bits() != nullptr && std::vector<bool>(e->bits()->begin(), e->bits()->end()) ==
                                    std::vector<bool>({true, false, true}));
#endif
  return failures == 0 ? 0 : 1;
}
