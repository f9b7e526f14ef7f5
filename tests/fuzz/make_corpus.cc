// Writes the seed corpus: valid task envelopes for every fuzzed function (arguments copied
// and referenced in the fake segment's blocks) and valid result envelopes of several types.
//
//   make_corpus <out dir>   ->  <out>/task/*.bin, <out>/result/*.bin
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "brine/core/closure.h"
#include "fuzz_harness.h"

namespace brine_fuzz_functions {
int add(int, int);
double total(std::span<const double>);
std::string greet(const std::string&, std::optional<int>);
std::vector<double> scaled(std::span<const double>, double);
std::map<std::string, int> count(const std::vector<std::string>&);
std::variant<int, std::string> pick(std::tuple<int, std::string>, bool);
void nothing();
int fails(int);
}  // namespace brine_fuzz_functions

namespace {

using namespace brine;
namespace fs = std::filesystem;

void write(const fs::path& path, const flatbuffers::FlatBufferBuilder& fbb) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

template <class R, class... P, class... A>
void task(const fs::path& dir, const std::string& name, R (*fn)(P...), const A&... args) {
  fuzz::FakeSegment segment;
  flatbuffers::FlatBufferBuilder fbb;
  Encoder e(fbb, {.reference_threshold = 256, .sink = &segment});
  const FunctionInfo& info = *FunctionRegistry::global().find_address(reinterpret_cast<const void*>(fn));
  const EncodedCall call = encode_call(e, fn, args...);
  finish_task(e, 1, info, call);
  write(dir / (name + ".bin"), fbb);
}

template <class T>
void result(const fs::path& dir, const std::string& name, const T& value) {
  fuzz::FakeSegment segment;
  flatbuffers::FlatBufferBuilder fbb;
  Encoder e(fbb, {.reference_threshold = 256, .sink = &segment});
  finish_result(e, ResultParts{1, detail::Box<T>::write(e, value), 0, 0});
  write(dir / (name + ".bin"), fbb);
}

void error_result(const fs::path& dir) {
  flatbuffers::FlatBufferBuilder fbb;
  Encoder e(fbb);
  finish_result(e, encode_error(e, 1, fb::Phase::Run, ErrorCode::kRemote, "std::runtime_error", "boom", "fails"));
  write(dir / "error.bin", fbb);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace brine_fuzz_functions;
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus <out dir>\n");
    return 2;
  }
  const fs::path tasks = fs::path(argv[1]) / "task", results = fs::path(argv[1]) / "result";
  fs::create_directories(tasks);
  fs::create_directories(results);
  const std::vector<double> small{1, 2, 3}, big(100, 0.5);  // big: referenced (> 256 bytes)
  task(tasks, "add", add, 2, 40);
  task(tasks, "total_copied", total, small);
  task(tasks, "total_referenced", total, big);
  task(tasks, "total_forced_ref", total, brine::ref(small));
  task(tasks, "greet", greet, std::string("ada"), std::optional<int>(3));
  task(tasks, "greet_none", greet, std::string("bob"), std::optional<int>());
  task(tasks, "scaled", scaled, big, 2.0);
  task(tasks, "count", count, std::vector<std::string>{"a", "b", "a"});
  task(tasks, "pick", pick, std::tuple<int, std::string>(7, "seven"), false);
  task(tasks, "nothing", nothing);
  task(tasks, "fails", fails, 3);
  result(results, "int", 42);
  result(results, "double", 2.5);
  result(results, "string", std::string("hello"));
  result(results, "vector_copied", small);
  result(results, "vector_referenced", big);
  result(results, "strings", std::vector<std::string>{"x", "yy"});
  result(results, "optional", std::optional<int>(5));
  result(results, "map", std::map<std::string, int>{{"a", 1}, {"b", 2}});
  result(results, "variant", std::variant<int, std::string>(std::string("s")));
  result(results, "tuple", std::tuple<int, std::string, double>(1, "two", 3.0));
  result(results, "nested", std::vector<std::vector<int>>{{1}, {2, 3}});
  error_result(results);
  return 0;
}
