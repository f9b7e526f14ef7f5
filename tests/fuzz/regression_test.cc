// Replays every seed and every input a fuzzer ever crashed on (tests/fuzz/crashes/<target>/)
// through the fuzzed code, under the normal build: a fixed crash stays fixed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "fuzz_harness.h"

namespace {

namespace fs = std::filesystem;

std::vector<std::byte> read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  const std::vector<char> chars((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

// Runs `fn` on every file under each of `dirs`; returns how many.
template <class Fn>
int replay(std::initializer_list<fs::path> dirs, Fn fn) {
  int n = 0;
  for (const fs::path& dir : dirs) {
    if (!fs::exists(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      SCOPED_TRACE(entry.path().string());
      const std::vector<std::byte> bytes = read_file(entry.path());
      fn(std::span<const std::byte>(bytes));
      // Every truncation of a seed is an input too.
      for (std::size_t cut = 0; cut < bytes.size(); cut += 7) fn(std::span<const std::byte>(bytes.data(), cut));
      ++n;
    }
  }
  return n;
}

const fs::path kDir = BRINE_FUZZ_DIR;

TEST(FuzzRegressionTest, TaskSeedsAndCrashesRunWithoutCrashing) {
  EXPECT_GT(replay({kDir / "corpus/task", kDir / "crashes/task"}, brine::fuzz::run_task_input), 0);
}

TEST(FuzzRegressionTest, ResultSeedsAndCrashesDecodeWithoutCrashing) {
  EXPECT_GT(replay({kDir / "corpus/result", kDir / "crashes/result"}, brine::fuzz::decode_result_input), 0);
}

}  // namespace
