// The brine CLI, run in-process over live pools: every command has --help; ls and top show a
// live pool read from its segment, and their JSON parses back; clean removes what a dead owner
// left (its orphaned workers) and touches nothing that is alive; bench compares two runs.
#include "brine/tools/cli.h"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "brine/ipc/pool.h"
#include "brine/tools/scan.h"

namespace cli_test {

int twice(int x) { return 2 * x; }
BRINE_REGISTER(twice);

}  // namespace cli_test

namespace {

using nlohmann::json;

struct CliRun {
  int status;
  std::string out, err;
};

CliRun brine_cli(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int status = brine::tools::run_cli(args, out, err);
  return {status, out.str(), err.str()};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The segment this process owns.
std::string own_segment() {
  for (const auto& s : brine::tools::find_segments()) {
    if (s.owner == getpid()) return s.name;
  }
  return {};
}

const brine::PoolOptions kSmall{.workers = 2, .arena_bytes = std::size_t{4} << 20, .slot_count = 64};

TEST(CliTest, EveryCommandHasHelp) {
  const CliRun all = brine_cli({"--help"});
  EXPECT_EQ(all.status, 0);
  for (const char* cmd : {"ls", "clean", "top", "bench"}) {
    EXPECT_TRUE(contains(all.out, cmd)) << all.out;
    const CliRun one = brine_cli({cmd, "--help"});
    EXPECT_EQ(one.status, 0);
    EXPECT_TRUE(contains(one.out, std::string("usage: brine ") + cmd)) << one.out;
  }
  EXPECT_EQ(brine_cli({}).status, 2);
  const CliRun bad = brine_cli({"frobnicate"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_TRUE(contains(bad.err, "unknown command 'frobnicate'")) << bad.err;
  const CliRun topic = brine_cli({"help", "top"});
  EXPECT_EQ(topic.status, 0);
  EXPECT_TRUE(contains(topic.out, "usage: brine top")) << topic.out;
  EXPECT_TRUE(contains(topic.out, "--interval")) << topic.out;
}

// Flags a command does not take, and values it cannot use, are errors: status 2, a message
// naming the culprit on stderr, nothing run.
TEST(CliTest, UnknownFlagsAndBadValuesAreErrors) {
  const CliRun flag = brine_cli({"ls", "--jsn"});
  EXPECT_EQ(flag.status, 2);
  EXPECT_TRUE(contains(flag.err, "--jsn")) << flag.err;
  EXPECT_TRUE(flag.out.empty()) << flag.out;
  const CliRun top = brine_cli({"top", "--once", "--interval", "0"});
  EXPECT_EQ(top.status, 2);
  EXPECT_TRUE(contains(top.err, "--interval")) << top.err;
  const CliRun missing = brine_cli({"bench", "--compare", "/nonexistent/old.json", "/nonexistent/new.json"});
  EXPECT_EQ(missing.status, 2);
  EXPECT_TRUE(contains(missing.err, "/nonexistent/old.json")) << missing.err;
  EXPECT_EQ(brine_cli({"bench", "--compare", "only_one.json"}).status, 2);
  EXPECT_EQ(brine_cli({"clean", "extra"}).status, 2);
}

TEST(CliTest, LsShowsALivePoolWithItsOwnerSizeAndWorkers) {
  brine::Pool pool(kSmall);
  const std::string name = own_segment();
  ASSERT_FALSE(name.empty());
  const CliRun ls = brine_cli({"ls", "--json"});
  EXPECT_EQ(ls.status, 0);
  EXPECT_TRUE(contains(ls.out, "{\"name\":\"" + name + "\",\"owner_pid\":" + std::to_string(getpid()) +
                                   ",\"owner_alive\":true")) << ls.out;
  const json parsed = json::parse(ls.out);  // throws, and fails the test, on anything but one JSON value
  ASSERT_TRUE(parsed.at("segments").is_array()) << ls.out;
  ASSERT_TRUE(parsed.at("shm").is_array()) << ls.out;
  const auto mine = std::find_if(parsed["segments"].begin(), parsed["segments"].end(),
                                 [&](const json& s) { return s.at("name") == name; });
  ASSERT_NE(mine, parsed["segments"].end()) << ls.out;
  EXPECT_EQ(mine->at("owner_pid"), getpid());
  EXPECT_EQ(mine->at("owner_alive"), true);
  EXPECT_EQ(mine->at("live_workers"), 2);
  EXPECT_GE(mine->at("max_workers").get<int>(), 2);
  EXPECT_GT(mine->at("size").get<uint64_t>(), 4u << 20);
  EXPECT_LE(mine->at("arena_used").get<uint64_t>(), mine->at("arena_size").get<uint64_t>());
  std::vector<pid_t> holders = mine->at("holders").get<std::vector<pid_t>>();
  EXPECT_NE(std::find(holders.begin(), holders.end(), getpid()), holders.end()) << ls.out;
  for (pid_t w : pool.worker_pids()) EXPECT_NE(std::find(holders.begin(), holders.end(), w), holders.end()) << w;
  const CliRun text = brine_cli({"ls"});
  EXPECT_TRUE(contains(text.out, name)) << text.out;
  EXPECT_TRUE(contains(text.out, "alive")) << text.out;
}

TEST(CliTest, TopOnceShowsEveryWorkerAndTheTaskCounters) {
  brine::Pool pool(kSmall);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(pool.submit(cli_test::twice, i).get(), 2 * i);
  const std::string me = std::to_string(getpid());
  const CliRun top = brine_cli({"top", me, "--once", "--json", "--interval", "0.05"});
  ASSERT_EQ(top.status, 0) << top.err;
  EXPECT_TRUE(contains(top.out, "\"tasks_completed\":100")) << top.out;
  for (pid_t pid : pool.worker_pids()) EXPECT_TRUE(contains(top.out, "\"pid\":" + std::to_string(pid))) << top.out;
  ASSERT_EQ(std::count(top.out.begin(), top.out.end(), '\n'), 1) << "one frame, one line: " << top.out;
  const json frame = json::parse(top.out);
  EXPECT_EQ(frame.at("name"), own_segment());
  EXPECT_EQ(frame.at("owner_pid"), getpid());
  EXPECT_EQ(frame.at("tasks_submitted"), 100);
  EXPECT_EQ(frame.at("tasks_completed"), 100);
  EXPECT_EQ(frame.at("workers_crashed"), 0);
  EXPECT_GE(frame.at("tasks_per_second").get<double>(), 0.0);
  ASSERT_EQ(frame.at("workers").size(), frame.at("max_workers").get<std::size_t>()) << top.out;
  uint64_t done = 0;
  std::vector<pid_t> listed;
  for (std::size_t i = 0; i < frame["workers"].size(); ++i) {
    const json& w = frame["workers"][i];
    EXPECT_EQ(w.at("index"), i);
    if (w.at("pid") == 0) {  // a table entry no worker has used
      EXPECT_EQ(w.at("state"), "empty") << w;
      continue;
    }
    listed.push_back(w.at("pid").get<pid_t>());
    EXPECT_EQ(w.at("state"), "idle");
    EXPECT_EQ(w.at("current_slot"), -1);
    EXPECT_GT(w.at("rss").get<int64_t>(), 0) << w;  // each live worker's resident memory is shown
    EXPECT_GE(w.at("busy").get<double>(), 0.0);
    EXPECT_LE(w.at("queued").get<uint64_t>(), w.at("ring_capacity").get<uint64_t>());
    done += w.at("tasks_done").get<uint64_t>();
  }
  EXPECT_EQ(done, 100u);
  std::vector<pid_t> pids = pool.worker_pids();
  std::sort(pids.begin(), pids.end());
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(listed, pids) << top.out;
  const CliRun text = brine_cli({"top", own_segment(), "--once", "--interval", "0.05"});
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_TRUE(contains(text.out, "100 completed")) << text.out;
  EXPECT_TRUE(contains(text.out, "idle")) << text.out;
  EXPECT_TRUE(contains(text.out, "RSS")) << text.out;

  const CliRun none = brine_cli({"top", "999999999", "--once"});
  EXPECT_EQ(none.status, 1);
  EXPECT_TRUE(contains(none.err, "no live pool")) << none.err;
}

TEST(CliTest, BenchSaysClearlyWhenTheReportScriptIsMissing) {
  setenv("BRINE_BENCH_SCRIPT", "/nonexistent/run_report.sh", 1);
  const CliRun r = brine_cli({"bench"});
  unsetenv("BRINE_BENCH_SCRIPT");
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "/nonexistent/run_report.sh is missing")) << r.err;
}

// `brine bench` runs the report script as a child and passes its output on; the script gets
// the build directory and --quick as given, however they are spelt.
TEST(CliTest, BenchRunsTheScriptAndPassesItsOutputOn) {
  char dir[] = "/tmp/brine bench 'quoted'-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string script = std::string(dir) + "/run_report.sh";
  std::ofstream(script) << "echo \"[1/1] args: $1 $2\"\necho 'targets (issue 6):'\nexit ${FAIL:-0}\n";
  setenv("BRINE_BENCH_SCRIPT", script.c_str(), 1);
  const CliRun ok = brine_cli({"bench", "build dir's", "--quick"});
  setenv("FAIL", "3", 1);
  const CliRun failed = brine_cli({"bench"});
  unsetenv("FAIL");
  unsetenv("BRINE_BENCH_SCRIPT");
  std::remove(script.c_str());
  rmdir(dir);
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_TRUE(contains(ok.out, "[1/1] args: build dir's --quick\ntargets (issue 6):\n")) << ok.out;
  EXPECT_EQ(failed.status, 1);
}

// Two Google Benchmark JSON files in, the change per row out (Google Benchmark's compare.py).
TEST(CliTest, BenchCompareShowsTheChangePerRow) {
  if (access("/usr/share/benchmark/compare.py", R_OK) != 0) {
    GTEST_SKIP() << "libbenchmark-tools is not installed (tools/install-deps.sh --bench)";
  }
  auto run = [](double ns) {
    return json{{"context", {{"date", "2026-01-01T00:00:00+00:00"}, {"num_cpus", 2}}},
                {"benchmarks",
                 {{{"name", "BM_Thing/8"}, {"run_type", "iteration"}, {"iterations", 1000}, {"real_time", ns},
                   {"cpu_time", ns}, {"time_unit", "ns"}}}}};
  };
  char dir[] = "/tmp/brine-compare-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string old_path = std::string(dir) + "/old.json", new_path = std::string(dir) + "/new.json";
  std::ofstream(old_path) << run(100).dump();
  std::ofstream(new_path) << run(200).dump();
  const CliRun r = brine_cli({"bench", "--compare", old_path, new_path});
  std::remove(old_path.c_str());
  std::remove(new_path.c_str());
  rmdir(dir);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "BM_Thing/8")) << r.out;
  EXPECT_TRUE(contains(r.out, "+1.0000")) << "twice as slow: " << r.out;
  EXPECT_FALSE(contains(r.out, "\x1b[")) << "colour codes in captured output: " << r.out;
}

#ifdef BRINE_BENCH_FACTS
// The build facts the benchmark report quotes are one JSON object of strings.
TEST(CliTest, BenchFactsParseBack) {
  std::ifstream in(BRINE_BENCH_FACTS);
  ASSERT_TRUE(in) << BRINE_BENCH_FACTS;
  const json facts = json::parse(in);
  ASSERT_TRUE(facts.is_object());
  for (const char* key : {"benchmark", "build_type", "compiler"}) EXPECT_TRUE(facts.at(key).is_string()) << key;
}
#endif

// A dead owner whose segment is still held by a process its worker table lists: `clean`
// must kill that process (and say so), and leave every live pool alone.
TEST(CliTest, CleanKillsOrphanedWorkersOfADeadOwnerAndNothingAlive) {
  // The owner is forked before this process starts a pool of its own (threads): a child of a
  // multithreaded process may not start threads under ThreadSanitizer, and the owner must.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);  // orphans come back to us, to be reaped
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t owner = fork();
  if (owner == 0) {
    brine::Pool pool({.workers = 1, .arena_bytes = std::size_t{1} << 20, .slot_count = 8});
    pool.submit(cli_test::twice, 1).get();  // the worker has written its own pid by now
    const pid_t orphan = fork();  // inherits the segment fd, outlives the owner
    if (orphan == 0) {
      for (;;) pause();
    }
    // List it as the pool's worker, as a worker of another start method could be.
    const brine::ipc::SegmentHeader* header = pool.arena().header();
    reinterpret_cast<brine::ipc::WorkerControl*>(pool.arena().base() + header->workers_offset)[0].pid.store(orphan);
    [[maybe_unused]] const ssize_t n = write(fds[1], &orphan, sizeof orphan);
    _exit(0);
  }
  close(fds[1]);
  pid_t orphan = 0;
  ASSERT_EQ(read(fds[0], &orphan, sizeof orphan), static_cast<ssize_t>(sizeof orphan));
  close(fds[0]);
  ASSERT_EQ(waitpid(owner, nullptr, 0), owner);
  brine::Pool alive(kSmall);
  const std::string alive_name = own_segment();

  const std::string kill_line = "kill pid " + std::to_string(orphan) + " (orphaned worker of brine-" + std::to_string(owner);
  const CliRun dry = brine_cli({"clean", "--dry-run"});
  EXPECT_TRUE(contains(dry.out, "would " + kill_line)) << dry.out << dry.err;
  EXPECT_FALSE(contains(dry.out, alive_name)) << dry.out;
  EXPECT_TRUE(brine::tools::process_alive(orphan)) << "--dry-run killed it";

  const CliRun real = brine_cli({"clean"});
  EXPECT_TRUE(contains(real.out, kill_line)) << real.out << real.err;
  int status = 0;
  ASSERT_EQ(waitpid(orphan, &status, 0), orphan);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  for (const auto& s : brine::tools::find_segments()) EXPECT_NE(s.owner, owner) << s.name << " survived clean";
  EXPECT_EQ(alive.submit(cli_test::twice, 21).get(), 42) << "clean touched a live pool";
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}

}  // namespace
