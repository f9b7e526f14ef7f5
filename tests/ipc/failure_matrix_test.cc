// The failure matrix of issue 4, with real worker processes: phase x kind, where phase is
// where a task is when it goes wrong and kind is how.
//
//   phase: encode the task (parent) | decode it (worker) | run it (worker) |
//          encode the result (worker) | decode the result (parent)
//   kind:  exception | exit(3) | abort() | segfault | SIGKILL
//
// The misbehaviour is carried by the values themselves: EvilArg and EvilResult have reduce
// hooks that do what their `kind` says, in the phase that runs them (an argument's decode only
// ever runs in a worker, a result's encode too), and never in the test process (checked by
// pid). Expected:
//  - an exception in a worker phase reaches the caller carrying the remote type name and
//    message, and the same worker (same pid) serves the next task;
//  - a death in any worker phase fails exactly the in-flight task with brine::WorkerCrashed
//    naming the pid, the signal or exit code and the function; the tasks queued behind it run
//    on a replacement (new pid);
//  - an exception in a parent phase fails that future only;
//  - a corrupt or truncated task envelope is rejected by the worker's verification with
//    brine::DecodeError, and the worker lives on.
// Every cell is printed as "[matrix] phase x kind -> type: message" for the closing note.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "brine/core/call.h"
#include "brine/ipc/layout.h"
#include "brine/ipc/pool.h"
#include "pool_behaviour_support.h"
#include "test_support.h"

namespace failure_matrix {

using namespace std::chrono_literals;

// The test process; a forked worker inherits the value and sees a different getpid().
const pid_t g_test_pid = getpid();

enum Kind : int { kFine = 0, kThrow, kExit, kAbort, kSegv, kKill, kExitZero };

const char* kind_name(int k) {
  switch (k) {
    case kThrow: return "exception";
    case kExit: return "exit(3)";
    case kAbort: return "abort()";
    case kSegv: return "segfault";
    case kKill: return "SIGKILL";
    case kExitZero: return "exit(0)";
    default: return "fine";
  }
}

// Does what `kind` says, in a worker only.
void misbehave(int kind, const std::string& where) {
  if (getpid() == g_test_pid) return;
  switch (kind) {
    case kThrow: throw std::runtime_error(where + " refused on purpose");
    case kExit: std::exit(3);
    case kExitZero: std::exit(0);
    case kAbort: std::abort();
    case kSegv: {
      // A real fault, on a page mapped with no access, with the default action (a sanitizer's
      // SEGV handler would turn the signal into an exit code).
      signal(SIGSEGV, SIG_DFL);
      void* page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      *static_cast<volatile int*>(page) = 1;
      raise(SIGSEGV);  // not reached
      break;
    }
    case kKill: raise(SIGKILL); break;
    default: break;
  }
}

// An argument whose decode (in the worker) misbehaves as `decode_kind` says, and whose encode
// (in the parent) throws if `encode_throws`.
struct EvilArg {
  int decode_kind = kFine;
  bool encode_throws = false;
  int value = 0;
};
// A result whose encode (in the worker) misbehaves as `encode_kind` says, and whose decode (in
// the parent) throws if `decode_throws`.
struct EvilResult {
  int encode_kind = kFine;
  bool decode_throws = false;
  int value = 0;
};

}  // namespace failure_matrix

template <>
struct brine::Reducer<failure_matrix::EvilArg> {
  static std::string name() { return "failure_matrix::EvilArg"; }
  using As = std::tuple<int, int>;
  static As reduce(const failure_matrix::EvilArg& a) {
    if (a.encode_throws) throw std::invalid_argument("EvilArg encode refused on purpose (value " + std::to_string(a.value) + ")");
    return {a.decode_kind, a.value};
  }
  static failure_matrix::EvilArg rebuild(const As& t) {
    failure_matrix::EvilArg a;
    a.decode_kind = std::get<0>(t);
    a.value = std::get<1>(t);
    failure_matrix::misbehave(a.decode_kind, "EvilArg decode");
    return a;
  }
};

template <>
struct brine::Reducer<failure_matrix::EvilResult> {
  static std::string name() { return "failure_matrix::EvilResult"; }
  using As = std::tuple<bool, int>;
  static As reduce(const failure_matrix::EvilResult& r) {
    failure_matrix::misbehave(r.encode_kind, "EvilResult encode");
    return {r.decode_throws, r.value};
  }
  static failure_matrix::EvilResult rebuild(const As& t) {
    failure_matrix::EvilResult r;
    r.decode_throws = std::get<0>(t);
    r.value = std::get<1>(t);
    if (r.decode_throws && getpid() == failure_matrix::g_test_pid) {
      throw std::length_error("EvilResult decode refused on purpose (value " + std::to_string(r.value) + ")");
    }
    return r;
  }
};

namespace failure_matrix {

int take_arg(EvilArg a) { return a.value; }
BRINE_REGISTER_AS(take_arg, "failure_matrix::take_arg");

int run_kind(int kind, int value) {
  misbehave(kind, "run_kind");
  return value;
}
BRINE_REGISTER_AS(run_kind, "failure_matrix::run_kind");

// Runs until killed from outside: says where it runs first.
int sleep_announced(const std::string& path, int ms) {
  brine::testing::announce(path);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
BRINE_REGISTER_AS(sleep_announced, "failure_matrix::sleep_announced");

EvilResult make_result(int encode_kind, bool decode_throws, int value) { return {encode_kind, decode_throws, value}; }
BRINE_REGISTER_AS(make_result, "failure_matrix::make_result");

int plus_one(int x) { return x + 1; }
BRINE_REGISTER_AS(plus_one, "failure_matrix::plus_one");

int32_t worker_pid() { return getpid(); }
BRINE_REGISTER_AS(worker_pid, "failure_matrix::worker_pid");

enum Corruption : int { kShorterThanHeader = 1, kTruncatedHalf, kWrongIdentifier, kBlockOutsideTable, kSizePastSlot };

// From inside a worker: finds the pool's segment (the memfd mapping named in /proc/self/maps)
// and corrupts the envelope of every task queued in it (the task behind this one), as a
// stray write or a torn copy would. Waits (bounded) until such a task exists; returns how many
// it corrupted.
int corrupt_queued(int how) {
  std::ifstream maps("/proc/self/maps");
  std::byte* base = nullptr;
  for (std::string line; std::getline(maps, line);) {
    unsigned long long start = 0, offset = 1;
    if (line.find("memfd:brine-") == std::string::npos ||
        std::sscanf(line.c_str(), "%llx-%*x %*s %llx", &start, &offset) != 2 || offset != 0) {
      continue;
    }
    auto* h = reinterpret_cast<brine::ipc::SegmentHeader*>(start);
    if (h->magic == brine::ipc::kSegmentMagic) base = reinterpret_cast<std::byte*>(start);
  }
  if (base == nullptr) throw std::runtime_error("not inside a brine worker");
  auto* header = reinterpret_cast<brine::ipc::SegmentHeader*>(base);
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  int corrupted = 0;
  while (corrupted == 0 && std::chrono::steady_clock::now() < deadline) {
    for (uint32_t s = 0; s < header->slot_count; ++s) {
      auto* slot = reinterpret_cast<brine::ipc::SlotHeader*>(base + header->slots_offset + std::size_t{s} * header->slot_size);
      if (brine::ipc::word_state(slot->state.load()) != brine::ipc::SlotState::kQueued) continue;
      auto* data = reinterpret_cast<char*>(base + header->task_data_offset + std::size_t{s} * header->slot_bytes);
      switch (how) {
        case kShorterThanHeader: slot->envelope_size = 5; break;
        case kTruncatedHalf: slot->envelope_size /= 2; break;
        case kWrongIdentifier: {
          // Task envelopes are mapped read-only in workers: a hostile one must unprotect first.
          auto* page = reinterpret_cast<char*>(reinterpret_cast<uintptr_t>(data + 4) & ~uintptr_t{brine::ipc::kPageSize - 1});
          mprotect(page, brine::ipc::kPageSize, PROT_READ | PROT_WRITE);
          std::memcpy(data + 4, "XXXX", 4);
          break;
        }
        case kBlockOutsideTable: slot->envelope_block = header->max_blocks + 7; break;
        case kSizePastSlot: slot->envelope_size = header->slot_bytes * 3; break;
        default: break;
      }
      ++corrupted;
    }
    if (corrupted == 0) std::this_thread::sleep_for(1ms);
  }
  return corrupted;
}
BRINE_REGISTER_AS(corrupt_queued, "failure_matrix::corrupt_queued");

}  // namespace failure_matrix

namespace {

using namespace failure_matrix;
using brine::testing::Caught;
using brine::testing::catch_of;

// The table printed for the closing note: "phase x kind" -> what the caller got.
class FailureMatrixTest : public ::testing::Test {
 protected:
  static void record(const std::string& cell, const Caught& c) {
    std::string excerpt = c.message.substr(0, 230);
    rows().emplace_back(cell, (c.threw ? c.type : std::string("(no error)")) + ": " + excerpt);
    std::printf("[matrix] %-34s -> %s\n", cell.c_str(), rows().back().second.c_str());
    std::fflush(stdout);
  }
  static std::vector<std::pair<std::string, std::string>>& rows() {
    static std::vector<std::pair<std::string, std::string>> r;
    return r;
  }

  // A death in some worker phase: `submit_victim(pool)` returns the future of the task that
  // kills its worker. Checks the error names pid, cause and function; the queued tasks behind
  // it succeed on a replacement.
  template <class SubmitVictim>
  void expect_death_cell(const std::string& cell, SubmitVictim&& submit_victim, const std::string& function,
                         const std::string& how) {
    brine::Pool pool({.workers = 1});
    const pid_t before = pool.submit(worker_pid).get();
    auto victim = submit_victim(pool);
    std::vector<brine::Future<int>> behind;
    for (int i = 0; i < 5; ++i) behind.push_back(pool.submit(plus_one, i));
    ASSERT_TRUE(victim.wait_for(60s)) << cell << ": the victim's future never completed";
    const Caught c = catch_of([&] { victim.get(); });
    record(cell, c);
    EXPECT_EQ(c.type, "brine::WorkerCrashed") << cell << ": " << c.message;
    EXPECT_TRUE(c.has("pid " + std::to_string(before))) << cell << ": " << c.message;
    EXPECT_TRUE(c.has(how)) << cell << ": expected '" << how << "' in: " << c.message;
    EXPECT_TRUE(c.has("'" + function + "'")) << cell << ": " << c.message;
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(behind[i].wait_for(60s)) << cell << ": a task queued behind the crash hung";
      EXPECT_EQ(behind[i].get(), i + 1) << cell;
    }
    const pid_t after = pool.submit(worker_pid).get();
    EXPECT_NE(after, before) << cell << ": the worker was not replaced";
    EXPECT_FALSE(brine::testing::process_exists(before)) << cell;
    EXPECT_EQ(pool.stats().workers_crashed, 1u) << cell;
    EXPECT_EQ(pool.worker_pids().size(), 1u) << cell;
  }

  // An exception in some worker phase: the caller gets `type` carrying the remote type name
  // and message; the same worker serves the next task.
  template <class SubmitVictim>
  void expect_exception_cell(const std::string& cell, SubmitVictim&& submit_victim, const std::string& type,
                             const std::string& remote_type, const std::string& message) {
    brine::Pool pool({.workers = 1});
    const pid_t before = pool.submit(worker_pid).get();
    auto victim = submit_victim(pool);
    ASSERT_TRUE(victim.wait_for(60s)) << cell;
    const Caught c = catch_of([&] { victim.get(); });
    record(cell, c);
    EXPECT_EQ(c.type, type) << cell << ": " << c.message;
    EXPECT_TRUE(c.has(remote_type)) << cell << ": " << c.message;
    EXPECT_TRUE(c.has(message)) << cell << ": " << c.message;
    EXPECT_EQ(pool.submit(plus_one, 41).get(), 42) << cell;
    EXPECT_EQ(pool.submit(worker_pid).get(), before) << cell << ": the worker should have lived on";
    EXPECT_EQ(pool.stats().workers_crashed, 0u) << cell;
  }
};

std::string how_of(int kind) {
  switch (kind) {
    case kExit: return "exited with code 3";
    case kAbort: return "signal 6";
    case kSegv: return "signal 11";
    case kKill: return "signal 9";
    case kExitZero: return "exited with code 0";
    default: return "?";
  }
}

// ---- encode the task, in the parent ---------------------------------------------------------

TEST_F(FailureMatrixTest, EncodeInParentThrowsFailsOnlyThatFutureAmongAHundredGoodOnes) {
  brine::Pool pool({.workers = 2});
  std::vector<brine::Future<int>> bad, good;
  for (int i = 0; i < 100; ++i) {
    bad.push_back(pool.submit(take_arg, EvilArg{kFine, true, i}));
    good.push_back(pool.submit(take_arg, EvilArg{kFine, false, i}));
  }
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(good[i].wait_for(60s));
    EXPECT_EQ(good[i].get(), i);
    ASSERT_TRUE(bad[i].wait_for(60s));
    const Caught c = catch_of([&] { bad[i].get(); });
    if (i == 0) record("encode task (parent) x exception", c);
    EXPECT_EQ(c.type, "std::invalid_argument") << c.message;
    EXPECT_TRUE(c.has("EvilArg encode refused on purpose (value " + std::to_string(i) + ")")) << c.message;
  }
  EXPECT_EQ(pool.stats().submitted, 100u) << "a task that failed to encode is never sent";
  EXPECT_EQ(pool.stats().workers_crashed, 0u);
}

// ---- decode the task, in the worker ---------------------------------------------------------

TEST_F(FailureMatrixTest, DecodeInWorkerThrowsReachesTheCallerAndTheWorkerLivesOn) {
  expect_exception_cell(
      "decode task (worker) x exception", [](brine::Pool& p) { return p.submit(take_arg, EvilArg{kThrow, false, 1}); },
      "brine::RemoteError", "std::runtime_error", "EvilArg decode refused on purpose");
}

TEST_F(FailureMatrixTest, DecodeInWorkerDeathsFailOnlyThatTaskWithWorkerCrashed) {
  for (int kind : {kExit, kAbort, kSegv, kKill}) {
    SCOPED_TRACE(kind_name(kind));
    expect_death_cell(std::string("decode task (worker) x ") + kind_name(kind),
                      [kind](brine::Pool& p) { return p.submit(take_arg, EvilArg{kind, false, 1}); },
                      "failure_matrix::take_arg", how_of(kind));
  }
}

// ---- run, in the worker ---------------------------------------------------------------------

TEST_F(FailureMatrixTest, RunThrowsReachesTheCallerAndTheWorkerLivesOn) {
  expect_exception_cell(
      "run (worker) x exception", [](brine::Pool& p) { return p.submit(run_kind, int(kThrow), 1); },
      "brine::RemoteError", "std::runtime_error", "run_kind refused on purpose");
}

TEST_F(FailureMatrixTest, RunDeathsFailOnlyThatTaskWithWorkerCrashed) {
  for (int kind : {kExit, kAbort, kSegv, kKill}) {
    SCOPED_TRACE(kind_name(kind));
    expect_death_cell(std::string("run (worker) x ") + kind_name(kind),
                      [kind](brine::Pool& p) { return p.submit(run_kind, kind, 1); }, "failure_matrix::run_kind",
                      how_of(kind));
  }
}

TEST_F(FailureMatrixTest, RunExitZeroIsACrashNotAShutdown) {
  // A task calling exit(0) is as dead as one calling exit(3): its worker did not stop on the
  // pool's request, so the caller must hear WorkerCrashed, not "the pool shut down".
  expect_death_cell("run (worker) x exit(0)", [](brine::Pool& p) { return p.submit(run_kind, int(kExitZero), 1); },
                    "failure_matrix::run_kind", how_of(kExitZero));
}

TEST_F(FailureMatrixTest, RunKilledFromOutsideFailsOnlyThatTaskWithWorkerCrashed) {
  brine::testing::ScratchDir dir;
  const std::string started = dir.file("started");
  expect_death_cell(
      "run (worker) x SIGKILL from outside",
      [&](brine::Pool& p) {
        auto f = p.submit(sleep_announced, started, 120'000);
        const int pid = brine::testing::wait_announced(started);
        EXPECT_NE(pid, 0) << "the task never started";
        if (pid != 0) kill(pid, SIGKILL);
        return f;
      },
      "failure_matrix::sleep_announced", "signal 9");
}

// ---- encode the result, in the worker -------------------------------------------------------

TEST_F(FailureMatrixTest, EncodeResultInWorkerThrowsReachesTheCallerAndTheWorkerLivesOn) {
  expect_exception_cell(
      "encode result (worker) x exception",
      [](brine::Pool& p) { return p.submit(make_result, int(kThrow), false, 1); }, "brine::RemoteError",
      "std::runtime_error", "EvilResult encode refused on purpose");
}

TEST_F(FailureMatrixTest, EncodeResultInWorkerDeathsFailOnlyThatTaskWithWorkerCrashed) {
  for (int kind : {kExit, kAbort, kSegv, kKill}) {
    SCOPED_TRACE(kind_name(kind));
    expect_death_cell(
        std::string("encode result (worker) x ") + kind_name(kind),
        [kind](brine::Pool& p) {
          // The victim's future is a Future<EvilResult>; expect_death_cell wants .get() and
          // .wait_for(), which any Future has.
          return p.submit(make_result, kind, false, 1);
        },
        "failure_matrix::make_result", how_of(kind));
  }
}

// ---- decode the result, in the parent -------------------------------------------------------

TEST_F(FailureMatrixTest, DecodeResultInParentThrowsFailsThatFutureOnly) {
  brine::Pool pool({.workers = 1});
  const pid_t before = pool.submit(worker_pid).get();
  auto bad = pool.submit(make_result, int(kFine), true, 7);
  auto good = pool.submit(make_result, int(kFine), false, 8);
  ASSERT_TRUE(bad.wait_for(60s));
  const Caught c = catch_of([&] { bad.get(); });
  record("decode result (parent) x exception", c);
  // The hook ran in this process: its own exception reaches the caller unchanged.
  EXPECT_EQ(c.type, "std::length_error") << c.message;
  EXPECT_TRUE(c.has("EvilResult decode refused on purpose (value 7)")) << c.message;
  EXPECT_EQ(good.get().value, 8);
  EXPECT_EQ(pool.submit(worker_pid).get(), before);
  const auto stats = pool.stats();
  EXPECT_EQ(stats.workers_crashed, 0u);
  EXPECT_EQ(stats.arena_blocks, 0u) << "a result that failed to decode holds no arena block";
}

// ---- corrupt or truncated envelopes ---------------------------------------------------------

TEST_F(FailureMatrixTest, ACorruptTaskEnvelopeIsRejectedByTheWorkersVerification) {
  const std::map<int, std::pair<std::string, std::string>> cases = {
      {kShorterThanHeader, {"shorter than its header", "shorter than a FlatBuffers header"}},
      {kTruncatedHalf, {"truncated to half", "corrupt task envelope"}},
      {kWrongIdentifier, {"wrong file identifier", "not the identifier"}},
      {kBlockOutsideTable, {"block outside the table", "outside the table"}},
      {kSizePastSlot, {"size past its slot", "overflows its slot"}},
  };
  for (const auto& [how, expect] : cases) {
    SCOPED_TRACE(expect.first);
    brine::Pool pool({.workers = 1});
    const pid_t before = pool.submit(worker_pid).get();
    auto corruptor = pool.submit(corrupt_queued, how);
    auto victim = pool.submit(plus_one, 1);
    ASSERT_TRUE(victim.wait_for(60s));
    EXPECT_EQ(corruptor.get(), 1);
    const Caught c = catch_of([&] { victim.get(); });
    record("corrupt task envelope: " + expect.first, c);
    EXPECT_EQ(c.type, "brine::DecodeError") << c.message;
    EXPECT_TRUE(c.has(expect.second)) << c.message;
    EXPECT_EQ(pool.submit(plus_one, 41).get(), 42);
    EXPECT_EQ(pool.submit(worker_pid).get(), before) << "verification failed the task, not the worker";
    EXPECT_EQ(pool.stats().workers_crashed, 0u);
  }
}

TEST_F(FailureMatrixTest, CorruptOrTruncatedEnvelopeBytesAreRejectedByVerification) {
  // The same verification the worker and the collector run, on every truncation of a real
  // task and result envelope and on single-byte flips: each is a DecodeError or a valid
  // table, never a crash (ASan watches the reads).
  flatbuffers::FlatBufferBuilder fbb;
  brine::Encoder e(fbb);
  const auto call = brine::encode_call(e, &take_arg, EvilArg{kFine, false, 5});
  const brine::fb::TaskHead head(9, 1, 2, 0, 0, 0);
  fbb.Finish(brine::fb::CreateTask(fbb, &head, flatbuffers::Offset<brine::fb::AnyTable>(call.call)),
             brine::fb::TaskIdentifier());
  std::vector<std::byte> task(reinterpret_cast<const std::byte*>(fbb.GetBufferPointer()),
                              reinterpret_cast<const std::byte*>(fbb.GetBufferPointer()) + fbb.GetSize());
  // The frame, then the call's arguments against their types, as the worker's invoker does.
  const auto verify = [](std::span<const std::byte> bytes) {
    const brine::fb::Task& t = brine::verify_task(bytes);
    brine::Decoder d;
    d.set_envelope(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), t.refs());
    const brine::CallFrame frame{reinterpret_cast<const flatbuffers::Table*>(t.call()), nullptr, 0};
    d.require([&](brine::Verifier& v) { return brine::detail::CallTable<std::tuple<EvilArg>>::verify(v, frame); },
              "the call's arguments");
  };
  ASSERT_NO_THROW(verify(task));
  int rejected = 0;
  for (std::size_t n = 0; n < task.size(); ++n) {
    const Caught c = catch_of([&] { verify(std::span(task.data(), n)); });
    if (c.threw) {
      ++rejected;
      EXPECT_EQ(c.type, "brine::DecodeError") << n;
      if (n == task.size() / 2) record("verify_task on a truncated task", c);
    }
  }
  EXPECT_GE(rejected, int(task.size()) - 1) << "almost every truncation must be refused";
  for (std::size_t i = 0; i < task.size(); ++i) {
    for (uint8_t flip : {uint8_t(0x01), uint8_t(0x80), uint8_t(0xff)}) {
      auto copy = task;
      copy[i] ^= std::byte{flip};
      const Caught c = catch_of([&] { verify(copy); });
      if (c.threw) {
        EXPECT_EQ(c.type, "brine::DecodeError") << i;
      }
    }
  }
}

TEST_F(FailureMatrixTest, ZzPrintsTheTable) {
  // Runs last in a whole-binary run (the name sorts last in this suite); under ctest each test
  // prints its own rows as "[matrix] ..." lines.
  std::printf("\n[matrix] ---- failure matrix: %zu cells recorded in this process ----\n", rows().size());
  for (const auto& [cell, what] : rows()) std::printf("[matrix] %-34s | %s\n", cell.c_str(), what.c_str());
  std::fflush(stdout);
}

}  // namespace
