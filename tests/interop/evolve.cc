// Schema evolution (issue 11, item 3d): one source, built three times as the same qualified
// type evolve::Record —
//   INTEROP_RECORD_VERSION=1   v1
//   INTEROP_RECORD_VERSION=2   v2: fields added at the end of Record and of its nested Meta
//   INTEROP_RECORD_CHANGED     v1 with the type of `id` changed (int32 -> int64): incompatible
//
//   interop_evolve_vX write FILE                  dumps this version's Record
//   interop_evolve_vX schema FILE                 writes brine::schema_of<Record>()
//   interop_evolve_vX name                        prints brine::type_signature<Record>()
//   interop_evolve_vX read FILE 1|2               loads FILE, written by v1 or v2, checks every field
//   interop_evolve_vX refuse FILE                 loads FILE, expects brine::DecodeError, prints it
//
// Exits 0 when every check holds, 1 otherwise.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "brine/core/schema.h"
#include "brine/core/serialize.h"

#if !defined(INTEROP_RECORD_CHANGED) && !defined(INTEROP_RECORD_VERSION)
#error "build with INTEROP_RECORD_VERSION=1|2 or INTEROP_RECORD_CHANGED"
#endif
#ifdef INTEROP_RECORD_CHANGED
#define INTEROP_RECORD_VERSION 1
#endif

namespace evolve {

struct Meta {
  std::string author;
  uint32_t revision = 0;
#if INTEROP_RECORD_VERSION >= 2
  std::vector<int16_t> history;
#endif
};

struct Record {
#ifdef INTEROP_RECORD_CHANGED
  int64_t id = 0;
#else
  int32_t id = 0;
#endif
  std::string name;
  std::vector<float> weights;
  Meta meta;
#if INTEROP_RECORD_VERSION >= 2
  double score = 0;
  std::optional<int32_t> rank;
  std::string comment;
  Meta extra;
#endif
};

}  // namespace evolve

#if INTEROP_RECORD_VERSION >= 2
template <>
struct brine::Reducer<evolve::Meta>
    : brine::Fields<&evolve::Meta::author, &evolve::Meta::revision, &evolve::Meta::history> {};
template <>
struct brine::Reducer<evolve::Record>
    : brine::Fields<&evolve::Record::id, &evolve::Record::name, &evolve::Record::weights, &evolve::Record::meta,
                    &evolve::Record::score, &evolve::Record::rank, &evolve::Record::comment, &evolve::Record::extra> {
};
#else
template <>
struct brine::Reducer<evolve::Meta> : brine::Fields<&evolve::Meta::author, &evolve::Meta::revision> {};
template <>
struct brine::Reducer<evolve::Record>
    : brine::Fields<&evolve::Record::id, &evolve::Record::name, &evolve::Record::weights, &evolve::Record::meta> {};
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

// What every version writes (interop_test.py checks the same values with flatc's readers).
evolve::Record written() {
  evolve::Record r;
  r.id = 7;
  r.name = "record seven";
  r.weights = {0.5f, -1.25f};
  r.meta.author = "ada";
  r.meta.revision = 3;
#if INTEROP_RECORD_VERSION >= 2
  r.meta.history = {1, -2, 3};
  r.score = 2.75;
  r.rank = 4;
  r.comment = "added in v2";
  r.extra.author = "grace";
  r.extra.revision = 9;
#endif
  return r;
}

void check(const evolve::Record& r, [[maybe_unused]] int writer) {
  CHECK(r.id == 7);
  CHECK(r.name == "record seven");
  CHECK((r.weights == std::vector<float>{0.5f, -1.25f}));
  CHECK(r.meta.author == "ada");
  CHECK(r.meta.revision == 3u);
#if INTEROP_RECORD_VERSION >= 2
  if (writer >= 2) {
    CHECK((r.meta.history == std::vector<int16_t>{1, -2, 3}));
    CHECK(r.score == 2.75);
    CHECK(r.rank == 4);
    CHECK(r.comment == "added in v2");
    CHECK(r.extra.author == "grace");
    CHECK(r.extra.revision == 9u);
    CHECK(r.extra.history.empty());
  } else {
    // A v1 dump read by v2: every added field has its schema default.
    CHECK(r.meta.history.empty());
    CHECK(r.score == 0.0);
    CHECK(!r.rank.has_value());
    CHECK(r.comment.empty());
    CHECK(r.extra.author.empty());
    CHECK(r.extra.revision == 0u);
    CHECK(r.extra.history.empty());
  }
#endif
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() == 2 && args[0] == "write") {
      brine::dump(written(), args[1]);
      return 0;
    }
    if (args.size() == 2 && args[0] == "schema") {
      std::ofstream(args[1], std::ios::trunc) << brine::schema_of<evolve::Record>();
      return 0;
    }
    if (args.size() == 1 && args[0] == "name") {
      std::cout << brine::type_signature<evolve::Record>() << "\n";
      return 0;
    }
    if (args.size() == 3 && args[0] == "read") {
      check(brine::load<evolve::Record>(args[1]), std::stoi(args[2]));
      return failures == 0 ? 0 : 1;
    }
    if (args.size() == 2 && args[0] == "refuse") {
      try {
        (void)brine::load<evolve::Record>(args[1]);
      } catch (const brine::DecodeError& e) {
        std::cout << e.what() << "\n";
        return 0;
      }
      std::cerr << "an incompatible Record was accepted\n";
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "interop_evolve: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "usage: interop_evolve write|schema FILE | name | read FILE 1|2 | refuse FILE\n";
  return 2;
}
